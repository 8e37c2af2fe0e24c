"""A derived Dockerfile read as a recipe, so its image can be assembled instead of built.

A Dockerfile that only copies the primary's payload files onto its base and sets config is its base's
layers, one more layer holding the files, and the base's config with the Dockerfile's changes.
Such an image is assembled from what the base's registry holds (as crane append, ko and jib do),
and every derived image of a platform then shares one byte-identical payload layer. `read` answers None
for anything else (RUN, WORKDIR, variables it cannot resolve, parser directives...): that variant
is built by BuildKit. Pure: text in, data out.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

PRIMARY_ARG = "PRIMARY_IMAGE"  # the build argument naming the primary image, pinned by digest
CONFIG = ("ENTRYPOINT", "CMD", "ENV", "LABEL")
DIRECTIVE = re.compile(r"#\s*[A-Za-z]+\s*=")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
COMMENT = "publisher: assembled"


@dataclass(frozen=True)
class Step:
    kind: str  # COPY or one of CONFIG
    value: object  # COPY: the target folder; ENTRYPOINT/CMD: a list; ENV/LABEL: a dict
    line: str  # the instruction as written, for the image's history


@dataclass(frozen=True)
class Recipe:
    base: str  # the final stage's FROM, ARG defaults applied
    steps: tuple[Step, ...]

    @property
    def target(self) -> str:
        """The folder the binaries are copied into, without leading or trailing '/'."""
        return next(s.value for s in self.steps if s.kind == "COPY")


def read(text: str, sources: tuple[str, ...]) -> Recipe | None:
    """`sources`: where the primary image holds the payload files, e.g. ("/tool",)."""
    lines = [line.strip() for line in text.splitlines()]
    if any(line.endswith("\\") for line in lines) or _directives(lines):
        return None
    args: dict[str, str | None] = {}
    stages: list[tuple[str, str | None]] = []  # (image as written, name)
    steps: list[Step] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, has_default, default = rest.partition("=")
            args[name.strip()] = default.strip() if has_default else None
        elif keyword == "FROM":
            stage = _from_instruction(rest)
            if stage is None or steps:
                return None
            stages.append(stage)
        elif len(stages) == 2 and (step := _step(keyword, rest, line, (stages[0][1], sources))):
            steps.append(step)
        else:
            return None
    if len(stages) != 2 or stages[0][0] != f"${{{PRIMARY_ARG}}}" or not stages[0][1]:
        return None
    base = _substitute(stages[1][0], args)
    if base is None or [s.kind for s in steps].count("COPY") != 1:
        return None
    return Recipe(base, tuple(steps))


def _directives(lines: list[str]) -> bool:
    """`# syntax=`, `# escape=`...: they change how BuildKit reads the file."""
    for line in lines:
        if not line.startswith("#"):
            return False
        if DIRECTIVE.match(line):
            return True
    return False


def _from_instruction(rest: str) -> tuple[str, str | None] | None:
    words = rest.split()
    if len(words) == 1 and not words[0].startswith("--"):
        return words[0], None
    if len(words) == 3 and words[1].upper() == "AS" and not words[0].startswith("--"):
        return words[0], words[2]
    return None


def _substitute(image: str, args: dict[str, str | None]) -> str | None:
    unresolved = False

    def value(match: re.Match) -> str:
        nonlocal unresolved
        found = args.get(match[1] or match[2])
        unresolved |= not found
        return found or ""

    resolved = VARIABLE.sub(value, image)
    return None if unresolved or "$" in resolved else resolved


def _step(keyword: str, rest: str, line: str, primary: tuple[str | None, tuple[str, ...]]) -> Step | None:
    """`primary`: the primary stage's name and where it holds the payload files."""
    if "$" in rest:
        return None  # variables in a stage would need BuildKit's expansion rules
    if keyword == "COPY":
        return _copy(rest, line, *primary)
    if keyword in ("ENTRYPOINT", "CMD"):
        value = _json_list(rest)
        return None if value is None else Step(keyword, value, line)
    if keyword in ("ENV", "LABEL"):
        pairs = _pairs(rest)
        return None if pairs is None else Step(keyword, pairs, line)
    return None


def _copy(rest: str, line: str, primary_stage: str | None, sources: tuple[str, ...]) -> Step | None:
    words = rest.split()
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    # --link changes how BuildKit caches the layer, not what it holds.
    if sorted(flags) not in ([f"--from={primary_stage}"], sorted([f"--from={primary_stage}", "--link"])):
        return None
    if len(paths) < 2 or sorted(paths[:-1]) != sorted(sources) or not paths[-1].startswith("/") or not paths[-1].endswith("/"):
        return None
    target = paths[-1].strip("/")
    if not target or any(part in ("", ".", "..") for part in target.split("/")):
        return None
    return Step("COPY", target, line)


def _json_list(rest: str) -> list[str] | None:
    try:
        value = json.loads(rest)
    except ValueError:
        return None  # the shell form: left to BuildKit
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _pairs(rest: str) -> dict[str, str] | None:
    try:
        words = shlex.split(rest)
    except ValueError:
        return None
    if not words or not all("=" in w and w.index("=") > 0 for w in words):
        return None  # the legacy `ENV NAME value` form: left to BuildKit
    return dict(w.split("=", 1) for w in words)


def config(base_config: bytes, recipe: Recipe, payload_diff_id: str, labels: dict[str, str], created: str | None,
           base_name: str) -> bytes:
    """The derived image's config: the base's, with the recipe's layer and changes, then `labels`."""
    document = json.loads(base_config)
    for stale in ("container", "container_config", "docker_version"):  # how the base was built, not this image
        document.pop(stale, None)
    if document.get("architecture") == "arm64" and document.get("variant") in ("v8", "8"):
        del document["variant"]  # BuildKit writes the target platform normalized: arm64/v8 is arm64
    settings = dict(document.get("config") or {})
    history = _base_history(document, base_name)
    cmd_set = False
    for step in recipe.steps:
        if step.kind == "ENTRYPOINT":
            settings["Entrypoint"] = step.value or None
            if not cmd_set:
                settings["Cmd"] = None  # Dockerfile semantics: ENTRYPOINT drops the base's CMD
        elif step.kind == "CMD":
            settings["Cmd"], cmd_set = step.value or None, True
        elif step.kind == "ENV":
            settings["Env"] = _with_env(settings.get("Env") or [], step.value)
        elif step.kind == "LABEL":
            settings["Labels"] = {**(settings.get("Labels") or {}), **step.value}
        entry = {"created_by": step.line, "comment": COMMENT}
        entry.update({"empty_layer": True} if step.kind != "COPY" else {})
        history.append({"created": created, **entry} if created else entry)
    if labels:
        settings["Labels"] = {**(settings.get("Labels") or {}), **labels}
    document["config"] = settings
    document["history"] = history
    document["rootfs"] = {"type": "layers", "diff_ids": [*document["rootfs"]["diff_ids"], payload_diff_id]}
    if created:
        document["created"] = created
    return json.dumps(document, separators=(",", ":")).encode()


def _base_history(document: dict, base_name: str) -> list[dict]:
    """The base's history, with an entry for each of its layers that it does not account for."""
    history = list(document.get("history") or [])
    accounted = sum(1 for entry in history if not entry.get("empty_layer"))
    missing = len(document["rootfs"]["diff_ids"]) - accounted
    return [{"created_by": f"FROM {base_name}", "comment": COMMENT}] * max(missing, 0) + history


def _with_env(env: list[str], changes: dict[str, str]) -> list[str]:
    result = list(env)
    for name, value in changes.items():
        spot = next((i for i, item in enumerate(result) if item.split("=", 1)[0] == name), None)
        if spot is None:
            result.append(f"{name}={value}")
        else:
            result[spot] = f"{name}={value}"
    return result
