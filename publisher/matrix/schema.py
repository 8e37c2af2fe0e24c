"""The Matrix: every image of the family, read from matrix.yaml and checked before anything runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from publisher.image import reference
from publisher.image.reference import Reference
from publisher.matrix import source
from publisher.errors import PublisherError
from publisher.matrix.expand import expand
from publisher.image.platform import Platform
from publisher.matrix.payload import Payload, read_payload, read_platforms
from publisher.matrix.source import MISSING, Source, Where, describe, mapping, string, string_list

LABEL_KEYS = {"title", "description", "url", "source", "licenses", "vendor", "documentation", "authors"}
DEFAULT_TEMPLATE = "variants/Dockerfile.j2"
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# A base tag must not be mistaken for a version or the primary's `latest`.
RESERVED = re.compile(r"latest|v?\d+(\.\d+)*([._+-].*)?")


@dataclass(frozen=True)
class SmokeTest:
    """Run the image with `run` as its arguments; expect exit code `exit` and stdout matching `stdout`."""

    run: tuple[str, ...]
    stdout: str | None = None  # a regular expression; `{version}` is the release, escaped
    exit: int = 0


@dataclass(frozen=True)
class Variant:
    name: str  # its folder under variants/ and its id on the command line
    base: Reference | None  # the image it is FROM, as matrix.yaml writes it; None: FROM scratch (a primary only)
    family: str  # what the template branches on: scratch, alpine, debian, ...
    base_tags: tuple[str, ...]  # most specific first; may be empty for the primary image
    platforms: tuple[Platform, ...]
    smoke: tuple[SmokeTest, ...]
    config: dict  # what its image config must say: entrypoint, cmd, workdir, env
    line: int  # where it is declared, for error messages
    tag_lines: tuple[int, ...]  # the line of each base tag
    needs_credentials: bool = False  # its base's registry needs a login to pull: left out without one
    repositories: tuple[str, ...] = ()  # published only to these of the matrix's repositories; () for all
    platforms_from_base: bool = False  # `platforms: from-base`: of `platforms`, those its base's index has, at publish time
    primary: bool = False  # the primary image: tagged latest, X.Y.Z, X.Y; the derived images copy the payload from it


@dataclass(frozen=True)
class Matrix:
    name: str  # the file as the user named it, for messages
    root: Path  # the folder matrix.yaml is in: paths in it are relative to this
    repositories: tuple[str, ...]
    platforms: tuple[Platform, ...]
    labels: dict
    template: str
    variants: tuple[Variant, ...]  # the primary image first
    payload: Payload  # the files every image carries
    dev_repositories: tuple[str, ...] = ()  # where `publish --dev` publishes sha-<commit> tags
    tag_table: str | None = None  # where `publisher render` writes the Markdown table of images, relative to root

    def dockerfile(self, variant: Variant) -> str:
        return f"variants/{variant.name}/Dockerfile"


TOP_KEYS = {"dev_repositories", "repositories", "platforms", "labels", "payload", "families", "primary", "variants", "template", "tag_table"}
TABLE = re.compile(r"(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+\.md")


def load_matrix(path: Path, name: str | None = None) -> Matrix:
    """Read and check a matrix file; every problem found is reported at once (exit code 2)."""
    return _matrix(source.load(path, name), path.parent)


def matrix_from_text(text: str, name: str, root: Path) -> Matrix:
    """A matrix file's text (as a commit holds it), checked as load_matrix checks the file."""
    return _matrix(source.from_text(text, name), root)


def _matrix(src: Source, root: Path) -> Matrix:
    if not src.data:
        raise PublisherError(f"{src.name}:1: the matrix is empty; see docs/matrix.md for its keys")
    if not isinstance(src.data, dict):
        raise PublisherError(f"{src.name}:1: the matrix must be a mapping of keys (repositories, platforms, ...), not a list or a value")
    doc = mapping(src, (), src.data, required=TOP_KEYS - {"template", "tag_table", "dev_repositories"},
                  optional={"template", "tag_table", "dev_repositories"})
    repositories = _repositories(src, doc.get("repositories", MISSING))
    platforms = read_platforms(src, ("platforms",), doc.get("platforms", MISSING))
    labels = _labels(src, doc.get("labels", MISSING))
    payload = read_payload(src, doc.get("payload", MISSING))
    families = _families(src, doc.get("families", MISSING))
    template = string(src, ("template",), doc.get("template", DEFAULT_TEMPLATE))
    table = string(src, ("tag_table",), doc["tag_table"], TABLE, "a relative path ending in .md, e.g. docs/tags.md") if "tag_table" in doc else None
    if table and ".." in table.split("/"):
        src.error(("tag_table",), f"tag_table '{table}' leaves the matrix's folder; write a path below it, e.g. docs/tags.md")
    variants = [_primary(src, doc.get("primary", MISSING), families, platforms)]
    entries = doc.get("variants", MISSING)
    if entries is not MISSING and not isinstance(entries, list):
        src.error(("variants",), "variants must be a list of variant entries")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        where = ("variants", i)
        if not isinstance(entry, dict):
            src.error(where, f"{describe(where)} must be a mapping with base, family and tags")
            continue
        for concrete in expand(src, where, entry, VARIANT_KEYS):
            variant = _read_variant(src, where, concrete, families, platforms)
            variants.append(replace(variant, repositories=_only_in(src, where, concrete, repositories)))
    dev = _repositories(src, doc["dev_repositories"], "dev_repositories") if "dev_repositories" in doc else []
    _unique(src, variants)
    src.problems.raise_if_any()
    return Matrix(src.name, root, tuple(repositories), tuple(platforms), labels, template, tuple(variants), payload,
                  tuple(dev), table or None)


def _repositories(src: Source, value: object, key: str = "repositories") -> list[str]:
    refs = string_list(src, (key,), value)
    for i, ref in enumerate(refs):
        try:
            reference.parse_repository(ref)
        except ValueError as e:
            src.error((key, i), f"repository '{ref}': {e}; write host/path, e.g. ghcr.io/org/image")
        if ref in refs[:i]:
            src.error((key, i), f"repository '{ref}' is listed twice; keep one")
    return refs


def _labels(src: Source, value: object) -> dict:
    labels = mapping(src, ("labels",), value, required={"title"}, optional=LABEL_KEYS - {"title"})
    return {key: string(src, ("labels", key), labels[key]) for key in sorted(labels) if key in LABEL_KEYS}


@dataclass(frozen=True)
class Family:
    smoke: tuple[SmokeTest, ...]
    config: dict


def _families(src: Source, value: object) -> dict[str, Family]:
    if value is MISSING:
        return {}
    if not isinstance(value, dict) or not value:
        src.error(("families",), "families must map each family name (scratch, alpine, debian, ...) to its settings")
        return {}
    families = {}
    for name, settings in value.items():
        where = ("families", name)
        string(src, where, name, TAG, "use letters, digits, '.', '_' or '-'")
        settings = mapping(src, where, settings if settings is not None else {}, required=set(), optional={"smoke", "config"})
        smoke = _smoke_list(src, where + ("smoke",), settings.get("smoke", []))
        families[name] = Family(smoke, _image_config(src, where + ("config",), settings.get("config", {})))
    return families


def _image_config(src: Source, where: Where, value: object) -> dict:
    """Expected image config: entrypoint and cmd (a list, or null for none), workdir, env (NAME: value)."""
    config = mapping(src, where, value, required=set(), optional={"entrypoint", "cmd", "workdir", "env"})
    result: dict = {}
    for key in ("entrypoint", "cmd"):
        if key in config:
            result[key] = None if config[key] is None else string_list(src, where + (key,), config[key])
    if "workdir" in config:
        result["workdir"] = string(src, where + ("workdir",), config["workdir"])
    if "env" in config:
        env = mapping(src, where + ("env",), config["env"], required=set(), optional=set(config["env"] or {}))
        result["env"] = {str(k): string(src, where + ("env", k), v) for k, v in env.items()}
    return result


def _smoke_list(src: Source, where: Where, value: object) -> tuple[SmokeTest, ...]:
    if not isinstance(value, list):
        src.error(where, f"{describe(where)} must be a list of tests")
        return ()
    tests = []
    for i, item in enumerate(value):
        test = mapping(src, where + (i,), item, required={"run"}, optional={"stdout", "exit"})
        run = tuple(string_list(src, where + (i, "run"), test.get("run", MISSING)))
        stdout = string(src, where + (i, "stdout"), test["stdout"]) if "stdout" in test else None
        code = test.get("exit", 0)
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            src.error(where + (i, "exit"), f"{describe(where + (i, 'exit'))} must be an exit code, 0 to 255")
            code = 0
        if stdout is not None:
            _check_regex(src, where + (i, "stdout"), stdout)
        tests.append(SmokeTest(run, stdout, code))
    return tuple(tests)


def _check_regex(src: Source, where: Where, pattern: str) -> None:
    try:
        re.compile(pattern.replace("{version}", "0"))
    except re.error as e:
        src.error(where, f"{describe(where)} is not a valid regular expression: {e}")


def _primary(src: Source, value: object, families: dict, platforms: tuple[Platform, ...]) -> Variant:
    """FROM scratch, or on a `base` (then optionally with base tags, as a derived image has)."""
    where = ("primary",)
    named = {"family"} | (set() if isinstance(value, dict) and "tags" in value else {"name"})  # else its first tag names it
    entry = mapping(src, where, value, required=named, optional={"name", "platforms", "smoke", "base", "tags"} - named)
    base = _read_base(src, where + ("base",), string(src, where + ("base",), entry["base"])) if "base" in entry else None
    if "tags" in entry and "base" not in entry:
        src.error(where + ("tags",), "primary.tags needs a primary.base: a primary FROM scratch is tagged latest, X.Y.Z "
                                     "and X.Y only; add its base, e.g. base: debian:trixie-slim, or remove tags")
    base_tags = _base_tags(src, where, entry) if "tags" in entry else []
    variant = _make_variant(src, where, entry, families, platforms, base=base, base_tags=base_tags)
    return replace(variant, primary=True)


FROM_BASE = "from-base"  # `platforms: from-base`: the matrix's platforms its base's index has, found at publish time
VARIANT_KEYS = {"base", "family", "tags", "name", "platforms", "smoke", "expand", "exclude", "overrides", "needs", "repositories"}
NEEDS = ("credentials",)


def _read_variant(src: Source, where: Where, entry: dict, families: dict, platforms: tuple[Platform, ...]) -> Variant:
    entry = mapping(src, where, entry, required={"base", "family", "tags"}, optional=VARIANT_KEYS - {"base", "family", "tags"})
    base = _read_base(src, where + ("base",), string(src, where + ("base",), entry.get("base", MISSING)))
    base_tags = _base_tags(src, where, entry)
    variant = _make_variant(src, where, entry, families, platforms, base=base, base_tags=base_tags)
    needs = string(src, where + ("needs",), entry["needs"]) if "needs" in entry else None
    if needs is not None and needs not in NEEDS:
        src.error(where + ("needs",), f"needs '{needs}' is not known; write 'needs: credentials' for a base that needs a login to pull")
    return replace(variant, needs_credentials=needs == "credentials")


def _base_tags(src: Source, where: Where, entry: dict) -> list[str]:
    hint = "a tag: letters, digits, '.', '_' or '-', at most 128, not starting with '.' or '-'"
    base_tags = string_list(src, where + ("tags",), entry.get("tags", MISSING), TAG, hint)
    for i, tag in enumerate(base_tags):
        if tag and RESERVED.fullmatch(tag):
            src.error(where + ("tags", i), f"base tag '{tag}' would clash with the version tags; start it with a letter, e.g. alpine3.20")
    return base_tags


def _read_base(src: Source, where: Where, text: str) -> Reference | None:
    """The base, parsed once; None when missing or not a reference (the problem is said)."""
    try:
        return reference.parse(text) if text else None
    except ValueError as e:
        src.error(where, f"base '{text}': {e}; write an image reference, e.g. alpine:3.20")
        return None


def _only_in(src: Source, where: Where, entry: dict, repositories: list[str]) -> tuple[str, ...]:
    """A variant's `repositories:`, a subset of the matrix's, in the matrix's order; () when absent."""
    if "repositories" not in entry:
        return ()
    where = where + ("repositories",)
    chosen = string_list(src, where, entry["repositories"])
    for i, ref in enumerate(chosen):
        if ref not in repositories:
            src.error(where + (i,), f"repository '{ref}' is not one of the matrix's repositories ({', '.join(repositories)}); "
                                    "a variant can only be published to some of them: list it under repositories: too")
    return tuple(ref for ref in repositories if ref in chosen)


def _make_variant(src, where, entry, families, platforms, base, base_tags) -> Variant:
    default_name = base_tags[0] if base_tags and base_tags[0] else MISSING
    name = string(src, where + ("name",), entry.get("name", default_name), TAG, "use letters, digits, '.', '_' or '-'")
    family = string(src, where + ("family",), entry.get("family", MISSING))
    if family and family not in families:
        src.error(where + ("family",), f"family '{family}' is not declared under families: ({', '.join(families)})")
    own_platforms = entry.get("platforms")
    from_base = own_platforms == FROM_BASE
    if from_base and where == ("primary",):
        why = ("is FROM scratch: it has no base to take its platforms from" if base is None else
               "is made for every platform a derived image copies it on, whatever its base has")
        src.error(where + ("platforms",), f"the primary image {why}; list them, e.g. platforms: [linux/amd64, linux/arm64]")
    if isinstance(own_platforms, str) and not from_base:
        src.error(where + ("platforms",), f"platforms '{own_platforms}' is neither a list nor 'from-base'; write e.g. "
                                          "[linux/amd64, linux/arm64], or from-base for those of the matrix's platforms its base has")
    elif own_platforms is not None and not from_base:
        platforms = read_platforms(src, where + ("platforms",), own_platforms)
    known = families.get(family, Family((), {}))
    smoke = known.smoke + _smoke_list(src, where + ("smoke",), entry.get("smoke", []))
    tag_lines = tuple(src.line(where + ("tags", i)) for i in range(len(base_tags)))
    return Variant(name, base, family, tuple(base_tags), tuple(platforms), smoke, known.config, src.line(where), tag_lines,
                   platforms_from_base=from_base)


def _unique(src: Source, variants: list[Variant]) -> None:
    names: dict[str, Variant] = {}
    tags: dict[str, Variant] = {}
    for v in variants:
        if v.name and v.name in names:
            src.problems.add(f"{src.name}:{v.line}: variant name '{v.name}' is already used at line {names[v.name].line}; give one a 'name:'")
        names.setdefault(v.name, v)
        for tag, line in zip(v.base_tags, v.tag_lines):
            if tag in tags and tags[tag] is not v:
                src.problems.add(f"{src.name}:{line}: tag '{tag}' is already claimed by variant '{tags[tag].name}'; each tag must name one variant")
            tags.setdefault(tag, v)
