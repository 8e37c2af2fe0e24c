"""Stage records on this machine: each written whole or not at all, named by its stage's platforms, read back
by a rerun of the stage and by the join (release/records says what they hold and what a join accepts)."""

from __future__ import annotations

from pathlib import Path

from publisher.errors import PublisherError
from publisher.image.platform import Platform
from publisher.release.records import StageRecord

def record_path(folder: Path, platforms: list[Platform]) -> Path:
    """Where a stage of these platforms writes its record: named by them, found by `load_records`."""
    return folder / f"stage-{'_'.join(p.text('-') for p in platforms)}.json"


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
