# Two commands do all set-up on a fresh Debian / Raspberry Pi OS machine with python3:
#   make sim    run the machine on the simulator (a program, to the end)
#   make test   run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'sudo apt-get install python3-venv'"; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Home Assistant 2024.1 in its own venv, for tests/mqtt/test_ha_schemas.py (~2 min once)
HA_STAMP := .venv-ha/.installed
$(HA_STAMP): tests/mqtt/ha-requirements.txt | $(STAMP)
	$(BIN)/python -m tests.mqtt.ha_env

.PHONY: install sim test bench deb ha-venv mutation
install: $(STAMP)
ha-venv: $(HA_STAMP)

sim: $(STAMP)
	$(BIN)/legtherapy run --sim --speed 0 --program quick_circulation --intensity 3 \
	  --state-dir state/sim --exit-when-done --report out/report.json --trace out/trace.csv

test: $(STAMP) $(HA_STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

bench: $(STAMP)
	$(BIN)/python -m bench

# Mutation testing of the safety-critical code (mutmut 3; what and why: docs/mutation.md).
# Not part of `make test`: ~30-40 min on 2 cores. Results: `$(BIN)/mutmut results`,
# one mutant's diff: `$(BIN)/mutmut show NAME`. Incremental: a re-run redoes only what changed.
mutation: $(STAMP)
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json && echo

# The Debian package for this machine's architecture (packaging/, systemd/README.md):
#   make deb && sudo apt install ./legtherapy_*.deb
DEB_OUT ?= .
DEB_BUILD_DIR ?= build/deb
deb:
	packaging/build-deb.sh $(DEB_OUT) $(DEB_BUILD_DIR)
