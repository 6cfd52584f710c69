"""The systemd unit: systemd itself accepts every directive, and the safety-relevant ones are there."""

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = UNIT_DIR / "legtherapy.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None)
PROBLEM = re.compile(r"unknown key|unknown section|invalid|failed to parse|not executable|bad message|"
                     r"missing|assignment outside|ignoring|unknown lvalue|does not exist|error", re.I)

EXEC = "/opt/legtherapy/.venv/bin/legtherapy"
CONFIG = "--config /etc/legtherapy/config.toml"


IN_CI = bool(os.environ.get("CI")) or os.environ.get("LEGTHERAPY_REQUIRE_MOSQUITTO") == "1"


def analyze() -> str:
    """systemd-analyze, or a failure in CI (never a silent pass): .ci/run runs where it is installed."""
    if SYSTEMD_ANALYZE is None:
        if IN_CI:
            pytest.fail("systemd-analyze is not installed: CI must run where systemd is (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed on this laptop")
    return SYSTEMD_ANALYZE


def unit_files():
    return sorted(UNIT_DIR.glob("*.service"))


def parse_unit(path):
    """Sections → list of (key, value), keeping repeated keys (DeviceAllow=, Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: {line!r} is outside any section"
        assert "=" in line, f"{path.name}: {line!r} is not KEY=value"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def one(sections, section, key):
    found = values(sections, section, key)
    assert len(found) == 1, f"[{section}] {key}= appears {len(found)} times"
    return found[0]


def runnable_copy(path, tmp_path):
    """The unit with its ExecStart=/ExecStopPost= pointed at a program that exists here."""
    text = re.sub(r"^(ExecStart|ExecStopPost)=.*$", r"\1=/bin/true", path.read_text(), flags=re.M)
    copy = tmp_path / path.name
    copy.write_text(text)
    return copy


def test_there_is_a_unit_file():
    assert UNIT in unit_files()


@pytest.mark.parametrize("path", unit_files(), ids=lambda p: p.name)
def test_configparser_reads_the_unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections())


def test_the_unit_is_a_notify_service_with_a_watchdog_and_a_safe_state_stop_hook():
    u = parse_unit(UNIT)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecStart": f"{EXEC} run {CONFIG}",
        "ExecStopPost": f"{EXEC} safe-state {CONFIG}",
        "WatchdogSec": "5",
        "Restart": "on-failure",
        "RestartSec": "2",
    }
    assert {k: one(u, "Service", k) for k in expected} == expected
    assert one(u, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" not in " ".join(values(u, "Unit", "Wants") + values(u, "Unit", "Requires"))


def test_the_unit_runs_as_its_own_user_with_gpio_and_i2c_and_writable_state():
    u = parse_unit(UNIT)
    expected = {
        "User": "legtherapy",
        "Group": "legtherapy",
        "RuntimeDirectory": "legtherapy",
        "RuntimeDirectoryMode": "0750",
        "StateDirectory": "legtherapy",
        "WorkingDirectory": "/var/lib/legtherapy",
    }
    assert {k: one(u, "Service", k) for k in expected} == expected
    assert set(one(u, "Service", "SupplementaryGroups").split()) == {"gpio", "i2c"}
    env = dict(v.split("=", 1) for v in values(u, "Service", "Environment"))
    assert env["GPIOZERO_PIN_FACTORY"] == "lgpio"
    assert env["LG_WD"] == "/var/lib/legtherapy"


def test_the_unit_is_hardened_but_still_reaches_gpio_and_i2c():
    u = parse_unit(UNIT)
    hardening = {
        "DevicePolicy": "closed",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "LockPersonality": "yes",
    }
    assert {k: one(u, "Service", k) for k in hardening} == hardening
    assert sorted(values(u, "Service", "DeviceAllow")) == ["char-gpiochip rw", "char-i2c rw"]
    assert set(one(u, "Service", "RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # PrivateDevices=yes would hide /dev/gpiochip* and /dev/i2c-*
    assert values(u, "Service", "PrivateDevices") in ([], ["no"])


@pytest.mark.parametrize("path", unit_files(), ids=lambda p: p.name)
def test_systemd_analyze_verify_finds_nothing_wrong_with_our_directives(path, tmp_path):
    copy = runnable_copy(path, tmp_path)
    base = [analyze(), "verify"]
    attempts = [base + ["--man=no", "--generators=no", str(copy)], base + ["--man=no", str(copy)],
                base + [str(copy)]]
    for cmd in attempts:  # older systemd versions lack some options
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        output = proc.stdout + proc.stderr
        if not re.search(r"unrecognized option|unknown option|invalid option", output, re.I):
            break
    ours = [line for line in output.splitlines() if copy.name in line or str(copy) in line]
    problems = [line for line in ours if PROBLEM.search(line)]
    assert problems == [], "systemd-analyze verify complains about the unit:\n" + "\n".join(problems)
    assert proc.returncode == 0 or ours, f"systemd-analyze verify did not run: {output[:300]}"


def test_verify_would_catch_a_misspelled_directive(tmp_path):
    """The verify test is only worth something if a broken unit fails it."""
    broken = tmp_path / "broken.service"
    broken.write_text(runnable_copy(UNIT, tmp_path).read_text()
                      .replace("ProtectSystem=strict", "ProtectSystem=stricter")
                      .replace("DevicePolicy=closed", "DevicePolicy=closed\nDeviceAlow=char-gpiochip rw"))
    proc = subprocess.run([analyze(), "verify", str(broken)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert "broken.service" in output, f"systemd-analyze verify does not work here: {output[:300]}"
    problems = [line for line in output.splitlines() if "broken.service" in line and PROBLEM.search(line)]
    assert any("DeviceAlow" in line for line in problems)
    assert any("stricter" in line for line in problems)


def exposure(unit_path) -> float:
    proc = subprocess.run([analyze(), "security", "--offline=true", str(unit_path)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert found, (proc.stdout + proc.stderr)[-500:]
    return float(found.group(1))


def test_systemd_analyze_security_exposure_is_at_most_2(tmp_path):
    assert exposure(runnable_copy(UNIT, tmp_path)) <= 2.0


def test_the_exposure_check_would_catch_a_weakened_unit(tmp_path):
    """Without the system-call filter and the address allow list the score passes 2.0."""
    weak = tmp_path / "weak.service"
    text = runnable_copy(UNIT, tmp_path).read_text()
    weak.write_text(re.sub(r"^(SystemCallFilter|IPAddressDeny|IPAddressAllow|ProtectProc|ProtectClock)=.*$", "",
                           text, flags=re.M))
    assert exposure(weak) > 2.0


def test_the_hardening_that_keeps_gpio_and_i2c_and_mqtt():
    u = parse_unit(UNIT)
    assert one(u, "Service", "ProtectClock") == "yes"
    assert one(u, "Service", "ProtectProc") == "invisible"
    assert one(u, "Service", "IPAddressDeny") == "any"
    allow = one(u, "Service", "IPAddressAllow").split()
    assert "localhost" in allow and "192.168.0.0/16" in allow and "any" not in allow
    filters = values(u, "Service", "SystemCallFilter")
    assert "@system-service" in filters
    denied = next(f for f in filters if f.startswith("~")).lstrip("~").split()
    assert {"@privileged", "@mount", "@reboot", "@raw-io", "@module"} <= set(denied)
    assert one(u, "Service", "SystemCallErrorNumber") == "EPERM"


def test_secrets_come_as_credentials_not_readable_by_the_technicians():
    u = parse_unit(UNIT)
    assert one(u, "Service", "LoadCredential") == "mqtt:/etc/legtherapy/credentials"
    assert one(u, "Service", "UMask") == "0077"
