"""Hypothesis profiles for the spec tests (STYLE 8): derandomized in CI, sized by environment.

``HYPOTHESIS_PROFILE=ci`` (set by .ci/run) selects ``ci``: ``derandomize=True`` so a failure
reproduces. Both profiles take ``max_examples`` from ``HYPOTHESIS_MAX_EXAMPLES`` (default 100,
Hypothesis's own default, so loading a profile does not slow other engineers' tests) and turn
off the per-example deadline (the machine is shared). Importing this module registers and
loads the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["MAX_EXAMPLES", "PROFILE"]

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "100"))
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=MAX_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
if PROFILE in ("ci", "dev"):
    settings.load_profile(PROFILE)
