"""YAML read into plain data, remembering the line of every value for error messages."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from publisher.errors import Problems, PublisherError

Where = tuple  # a path into the document: keys and list indexes

# Anything that could end a Dockerfile line or hide in a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Source:
    """One YAML file: its data, the line of each value, and the problems found in it."""

    name: str
    data: object
    lines: dict = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)

    def line(self, where: Where) -> int:
        while where not in self.lines and where:
            where = where[:-1]
        return self.lines.get(where, 1)

    def error(self, where: Where, message: str) -> None:
        self.problems.add(f"{self.name}:{self.line(where)}: {message}")


def describe(where: Where) -> str:
    """`variants[3].tags[0]` for ("variants", 3, "tags", 0)."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the document"


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where PyYAML has it: 5x faster


def load(path: Path, name: str | None = None) -> Source:
    name = name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PublisherError(f"{name}: cannot read: {e.strerror}; pass the matrix with --matrix PATH") from None
    except UnicodeDecodeError:
        raise PublisherError(f"{name}: not UTF-8 text; save it as UTF-8") from None
    return from_text(text, name)


def from_text(text: str, name: str) -> Source:
    """YAML text (a file's, or a commit's copy of it) as a Source; malformed YAML is one line, exit 2."""
    try:
        source = _parsed(name, text, LOADER)
    except yaml.MarkedYAMLError:  # told by PyYAML's own parser, whose messages say what it found instead
        try:
            source = _parsed(name, text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            raise PublisherError(f"{name}:{line}: malformed YAML: {e.problem or e.context}; fix the syntax") from None
    source.problems.raise_if_any()
    return source


def _parsed(name: str, text: str, loader_class) -> Source:
    source, loader = Source(name, None), loader_class(text)
    try:
        node = loader.get_single_node()
        source.data = {} if node is None else _plain(loader, node, (), source)
    finally:
        loader.dispose()
    return source


def _plain(loader, node: yaml.Node, where: Where, source: Source) -> object:
    source.lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        result: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                source.error(where, f"key {key!r} in {describe(where)} must be a string")
                continue
            if key in result:
                source.lines[where + (key,)] = key_node.start_mark.line + 1
                source.error(where + (key,), f"duplicate key '{key}' in {describe(where)}; keep one")
                continue
            result[key] = _plain(loader, value_node, where + (key,), source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(loader, item, where + (i,), source) for i, item in enumerate(node.value)]
    return loader.construct_object(node)


# Typed access with errors collected in the Source -------------------------------------------
# A value that is MISSING was already reported by mapping(); accessors stay silent about it.
MISSING = object()


def mapping(src: Source, where: Where, value: object, required: set[str], optional: set[str]) -> dict:
    """Check a mapping's keys: unknown keys are refused with the nearest known one."""
    if value is MISSING:
        return {}
    if not isinstance(value, dict):
        src.error(where, f"{describe(where)} must be a mapping, not {_kind(value)}")
        return {}
    known = sorted(required | optional)
    for key in value:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
            src.error(where + (key,), f"unknown key '{key}' in {describe(where)}; {hint}")
    for key in sorted(required - value.keys()):
        src.error(where, f"{describe(where)} is missing required key '{key}'")
    return value


def string(src: Source, where: Where, value: object, pattern: re.Pattern | None = None, hint: str = "") -> str:
    if value is MISSING:
        return ""
    if isinstance(value, float):
        src.error(where, f"{describe(where)} is read as the number {value!r}; quote it, e.g. \"3.10\"")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        src.error(where, f"{describe(where)} must be a string, not {_kind(value)}")
        return ""
    text = str(value)
    if _CONTROL.search(text):
        src.error(where, f"{describe(where)} contains a newline or control character; write it on one line")
        return ""
    if pattern is not None and not pattern.fullmatch(text):
        src.error(where, f"{describe(where)} '{text}' is not valid{': ' + hint if hint else ''}")
        return ""
    return text


def string_list(src: Source, where: Where, value: object, pattern: re.Pattern | None = None, hint: str = "") -> list[str]:
    if value is MISSING:
        return []
    if not isinstance(value, list) or not value:
        src.error(where, f"{describe(where)} must be a non-empty list")
        return []
    return [string(src, where + (i,), item, pattern, hint) for i, item in enumerate(value)]


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", type(None): "empty"}.get(type(value), f"{type(value).__name__} {value!r}")
