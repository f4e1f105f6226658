"""Hypothesis profiles of the property tests: ``ci`` (the default, bounded) and ``long``, chosen by
``HYPOTHESIS_PROFILE`` (see docs/property-tests.md)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)


def profile() -> settings:
    """The profile ``HYPOTHESIS_PROFILE`` names (``ci`` when unset)."""
    return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
