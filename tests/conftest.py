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

from hypothesis import Phase, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("mutation", derandomize=True, database=None, deadline=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))
