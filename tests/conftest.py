"""Hypothesis profiles for the whole suite.

- ``ci`` (loaded when ``CI=true``): derandomized, so a boundary bug that one example finds is
  found on every run, not in 11 of 20; no example database (a fresh clone has none anyway).
- ``mutation`` (``make mutation``): the same examples, without shrinking: a mutant is killed by
  the first failing example, and shrinking it would only cost time.
- ``dev`` (default elsewhere): random, as Hypothesis is meant to explore on a developer's machine.

``HYPOTHESIS_PROFILE`` picks one by name. Explicit boundary cases are ``@example``s or plain
parametrized tests, so they run under every profile.
"""

import os

import pytest
from hypothesis import Phase, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("mutation", derandomize=True, database=None, deadline=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))


@pytest.hookimpl(optionalhook=True)  # make mutation runs pytest -p no:xdist: this file must still load
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (``make test``): one worker per core, and one more. The broker, socket and
    packaging tests spend most of their time waiting in real time (a broker that comes back,
    a state heartbeat, dpkg); the extra worker keeps the cores busy with the simulated
    sessions meanwhile. Every test measures virtual time or waits with a bounded timeout, so
    sharing a core costs them nothing but wall time. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still
    overrides it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    return (os.cpu_count() or 1) + 1
