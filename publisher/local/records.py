"""The files a publish reads and leaves on this machine: stage records, and the --result document.

A stage record is written whole or not at all. The --result document (release/result) has the shape
{"repositories": {"<repository>": {"<tag>": {"digest": "sha256:...", ...}}}}; empty when nothing was
pushed (--no-push). Fields are only ever added.
"""

from __future__ import annotations

import json
from pathlib import Path

from publisher.errors import PublisherError
from publisher.release.records import StageRecord

EMPTY = {"repositories": {}}


def write_result(path: Path, document: dict | None) -> None:
    path.write_text(json.dumps(document or EMPTY, indent=2) + "\n", encoding="utf-8")


def check_stage_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise PublisherError(f"publisher: --stage {folder} is a file; give a folder for the stage record")


def saved_record(path: Path) -> StageRecord | None:
    """The stage record at `path`, or None when there is none publisher can read."""
    try:
        return StageRecord.from_json(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_record(path: Path, record: StageRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(record.to_json())
    partial.replace(path)  # a stage killed here leaves the old record or the new one, never half of one


def load_records(folders: list[Path]) -> dict[str, StageRecord]:
    """Every stage record in these folders, by file name; an unreadable one is refused by name."""
    found = {}
    for folder in folders:
        paths = sorted(folder.glob("stage-*.json")) if folder.is_dir() else []
        if not paths:
            raise PublisherError(f"publisher: --join {folder}: no stage record (stage-*.json) there; "
                                 "give the folders the stages wrote with --stage")
        for path in paths:
            try:
                found[str(path)] = StageRecord.from_json(path.read_bytes())
            except (OSError, ValueError, KeyError, TypeError):
                raise PublisherError(f"{path}: not a stage record publisher can read; stage again") from None
    return found
