"""When and from which commit a release is built: flags, then the environment, then git."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from publisher.errors import PublisherError
from publisher.release.plan import Provenance


def provenance(root: Path, created: str | None, revision: str | None, env=os.environ) -> Provenance:
    created = created or env.get("SOURCE_DATE_EPOCH") or None
    revision = revision or env.get("GITHUB_SHA") or None
    if created is None or revision is None:
        commit, commit_time = _git_head(root)
        created = created or commit_time
        revision = revision or commit
    return Provenance(_rfc3339(created) if created else None, revision)


def _git_head(root: Path) -> tuple[str | None, str | None]:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %ct"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return (out[0], out[1]) if len(out) == 2 else (None, None)


def _rfc3339(value: str) -> str:
    """Seconds since the epoch or an RFC 3339 time, as RFC 3339 in UTC."""
    try:
        moment = datetime.fromtimestamp(int(value), timezone.utc) if value.isdigit() else datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise PublisherError(f"publisher: --created/SOURCE_DATE_EPOCH '{value}' is neither seconds since 1970 nor an RFC 3339 time; e.g. 1732100000 or 2024-11-20T10:53:20Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
