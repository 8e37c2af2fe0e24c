"""The source checkout and the CI job around it, as the attestations name them."""

from __future__ import annotations

import os
from pathlib import Path

from publisher.image.attest import stable_env


def ci_environment() -> dict[str, str]:
    """The CI variables of this job that never change between runs of one release (see image.attest)."""
    return stable_env(os.environ)


def has_file(root: Path, relative: str) -> bool:
    return (root / relative).is_file()
