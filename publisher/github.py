"""GitHub Actions: the plan as a `strategy.matrix`, and workflow commands (groups, annotations) for the log."""

from __future__ import annotations

import os
import re

from publisher.image.platform import Platform
from publisher.release.plan import Plan

# A GitHub-hosted runner native to each platform; any other platform runs on amd64 under qemu.
RUNNERS = {Platform("linux", "amd64"): "ubuntu-24.04", Platform("linux", "arm64"): "ubuntu-24.04-arm"}
DEFAULT_RUNNER = "ubuntu-24.04"
FILE_LINE = re.compile(r"(?P<file>[^\s:]+):(?P<line>\d+): ")


def active() -> bool:
    """True inside a GitHub Actions job, where the runner reads workflow commands from the log."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def by_platform(plan: Plan) -> dict:
    """One job per platform, on a runner native to it; `variants` is what to pass to --only.

    `variants` is every selected variant, the same in each job: a stage's plan must be the join's, so a
    stage keeps the variants it makes none of (made by the stages of their platforms), and a one-machine
    `--platform` publish leaves them out.
    """
    platforms = plan.platforms
    names = " ".join(v.variant.name for v in plan.variants)
    return {"include": [{
        "platform": str(platform),
        "arch": platform.text("-", os=False),
        "runner": RUNNERS.get(platform, DEFAULT_RUNNER),
        "variants": names,
    } for platform in platforms]}


def by_variant_group(plan: Plan) -> dict:
    """One job per family of variants (scratch, alpine, debian, ...), in matrix order, all its platforms."""
    groups: dict[str, list] = {}
    for v in plan.variants:
        groups.setdefault(v.variant.family, []).append(v.variant)
    include = []
    for family, variants in groups.items():
        platforms = sorted({p for v in variants for p in v.platforms})
        runners = {RUNNERS.get(p, DEFAULT_RUNNER) for p in platforms}
        include.append({
            "group": family,
            "variants": " ".join(v.name for v in variants),
            "platforms": ",".join(map(str, platforms)),
            "runner": runners.pop() if len(runners) == 1 else DEFAULT_RUNNER,
        })
    return {"include": include}


def escape(text: str, property: bool = False) -> str:
    """A workflow command's message (or, with property, a parameter value), escaped as the runner expects."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


def error(line: str) -> str:
    """An error line as an annotation: on the file and line it names (`matrix.yaml:12: ...`), else on the run."""
    found = FILE_LINE.match(line)
    where = f" file={escape(found['file'], True)},line={found['line']}" if found else ""
    return f"::error{where}::{escape(line)}"


def annotated(line: str) -> str:
    """On GitHub Actions an error line is an annotation, on the file and line it names; elsewhere it is itself."""
    return error(line) if active() else line


def notice(line: str) -> str:
    return f"::notice::{escape(line)}"
