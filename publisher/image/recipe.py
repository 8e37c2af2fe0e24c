"""A Dockerfile read as a recipe, so its image can be assembled instead of built.

A derived Dockerfile that only copies the primary's payload files onto its base and sets config is its
base's layers, one more layer holding the files, and the base's config with the Dockerfile's changes.
A primary Dockerfile that only copies the payload files from its context to where the payload says the
primary holds them (in any form: `COPY f /`, `COPY f /f`, several files or several COPYs, `--link`, the
JSON form) is those layers on its base: `FROM scratch` (an empty config; it may make one WORKDIR too),
or FROM the base the matrix gives the primary, like a derived image. No BuildKit, so the same bytes on
every engine.
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

from publisher.image.platform import Platform, platform_of
from publisher.image.reference import Reference, parse

PRIMARY_ARG = "PRIMARY_IMAGE"  # the build argument naming the primary image, pinned by digest
CONFIG = ("ENTRYPOINT", "CMD", "ENV", "LABEL")
LAYERED = ("COPY", "WORKDIR")  # the steps that add a layer
SCRATCH = "scratch"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what BuildKit sets on scratch
DIRECTIVE = re.compile(r"#\s*[A-Za-z]+\s*=")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
COMMENT = "publisher: assembled"


@dataclass(frozen=True)
class Step:
    kind: str  # COPY, WORKDIR or one of CONFIG
    value: object  # COPY: the target folder; WORKDIR: the folder it makes; ENTRYPOINT/CMD: a list; ENV/LABEL: a dict
    line: str  # the instruction as written, for the image's history
    files: tuple[str, ...] = ()  # a primary's COPY: the payload files it copies, in the payload's order; () for all


@dataclass(frozen=True)
class Recipe:
    base: Reference | None  # the final stage's FROM, ARG defaults applied; None: FROM scratch
    steps: tuple[Step, ...]

    @property
    def target(self) -> str:
        """The folder the binaries are copied into, without leading or trailing '/' ('' for the root)."""
        return next(s.value for s in self.steps if s.kind == "COPY")

    @property
    def layers(self) -> tuple[Step, ...]:
        """The steps that add a layer, in order: the COPY, and a primary's WORKDIR."""
        return tuple(s for s in self.steps if s.kind in LAYERED)


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
            name, default = _arg(rest)
            args[name] = default
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
    base = _from_image(_substitute(stages[1][0], args))
    if base is None or [s.kind for s in steps].count("COPY") != 1:
        return None
    return Recipe(base, tuple(steps))


def read_primary(text: str, files: tuple[str, ...], folder: str) -> Recipe | None:
    """A primary Dockerfile: `FROM scratch` or FROM an image (ARGs before it give its variables' defaults),
    COPYs from the context that put each of `files` once in `folder`, and config; FROM scratch, at most one
    `WORKDIR /<name>` too. `files`, `folder`: the payload's names and where the primary holds them."""
    every = [line.strip() for line in text.splitlines()]
    lines = [line for line in every if line and not line.startswith("#")]
    if any(line.endswith("\\") for line in lines) or _directives(every):
        return None
    at = next((i for i, line in enumerate(lines) if line.split()[0].upper() != "ARG"), len(lines))
    words = lines[at].split() if at < len(lines) else []
    if len(words) != 2 or words[0].upper() != "FROM":
        return None
    image = _substitute(words[1], dict(_arg(line.split(None, 1)[1] if " " in line else "") for line in lines[:at]))
    base = None if image == SCRATCH else _from_image(image)
    steps = [_primary_step(line, files, folder) for line in lines[at + 1:]]
    if (base is None and image != SCRATCH) or None in steps:
        return None
    copied = [name for s in steps if s.kind == "COPY" for name in s.files]
    workdirs = [s.value for s in steps if s.kind == "WORKDIR"]
    if sorted(copied) != sorted(files) or len(workdirs) > (1 if base is None else 0) or (folder == "/" and set(workdirs) & set(files)):
        return None
    return Recipe(base, tuple(steps))


def _arg(rest: str) -> tuple[str, str | None]:
    """`ARG NAME=default` → (NAME, default); `ARG NAME` → (NAME, None)."""
    name, has_default, default = rest.partition("=")
    return name.strip(), default.strip() if has_default else None


def _primary_step(line: str, files: tuple[str, ...], folder: str) -> Step | None:
    keyword, _, rest = line.partition(" ")
    keyword, rest = keyword.upper(), rest.strip()
    if "$" in rest:
        return None
    if keyword == "COPY":
        return _primary_copy(rest, line, files, folder)
    if keyword == "WORKDIR":
        name = rest.strip("/")
        return Step("WORKDIR", name, line) if rest.startswith("/") and name and _one_folder(name) else None
    return _step(keyword, rest, line, (None, ())) if keyword in CONFIG else None


def _primary_copy(rest: str, line: str, files: tuple[str, ...], folder: str) -> Step | None:
    """`COPY [--link] <files> <folder>`, or `COPY [--link] <file> <folder><file>`, either form."""
    paths = _copy_paths(rest)
    if paths is None or len(paths) < 2:
        return None
    sources, target = [p.removeprefix("./") for p in paths[:-1]], paths[-1]
    one_file = len(sources) == 1 and target == folder + sources[0]
    if not set(sources) <= set(files) or len(set(sources)) != len(sources) or not (target == folder or one_file):
        return None
    return Step("COPY", folder.strip("/"), line, tuple(name for name in files if name in sources))


def _copy_paths(rest: str) -> list[str] | None:
    """A COPY's paths after its flags (only --link, which changes how BuildKit caches, not what it copies)."""
    words = rest.split()
    while words and words[0] == "--link":
        words.pop(0)
    if words and words[0].startswith("--"):
        return None
    if words and words[0].startswith("["):
        found = _json_list(" ".join(words))
        return found if found and not any(p.startswith("--") for p in found) else None
    return words


def _one_folder(name: str) -> bool:
    """A folder WORKDIR makes as one empty directory (a deeper one would make its parents too)."""
    return "/" not in name and name not in (".", "..") and not any(c.isspace() for c in name)


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


def _from_image(image: str | None) -> Reference | None:
    """The FROM's image as a reference; None when it is no valid one (BuildKit reads it then)."""
    try:
        return parse(image) if image else None
    except ValueError:
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


def scratch_config(platform: Platform) -> bytes:
    """The config `FROM scratch` starts from on `platform`, as BuildKit writes it (normalised: no arm64 variant)."""
    document = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        document["variant"] = platform.variant
    document |= {"config": {"Env": [DEFAULT_PATH]}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    return json.dumps(document, separators=(",", ":")).encode()


def config(base_config: bytes, recipe: Recipe, diff_ids: list[str], labels: dict[str, str], created: str | None,
           base_name: str) -> bytes:
    """The image's config: the base's, with the recipe's layers (`diff_ids`, one per `recipe.layers`) and
    changes, then `labels`."""
    document = json.loads(base_config)
    for stale in ("container", "container_config", "docker_version"):  # how the base was built, not this image
        document.pop(stale, None)
    if document.get("variant") and not platform_of(document).variant:
        del document["variant"]  # BuildKit writes the target platform normalised: arm64/v8 is arm64
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
        elif step.kind == "WORKDIR":
            settings["WorkingDir"] = f"/{step.value}"
        entry = {"created_by": step.line, "comment": COMMENT}
        entry.update({"empty_layer": True} if step.kind not in LAYERED else {})
        history.append({"created": created, **entry} if created else entry)
    if labels:
        settings["Labels"] = {**(settings.get("Labels") or {}), **labels}
    document["config"] = settings
    document["history"] = history
    document["rootfs"] = {"type": "layers", "diff_ids": [*document["rootfs"]["diff_ids"], *diff_ids]}
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
