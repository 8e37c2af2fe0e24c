"""Axes: one matrix entry with `expand:` stands for the product of its axes' values.

`exclude:` drops cells, `overrides:` changes some fields of some cells; a cell is chosen by the
values of some axes (`python: "3.9"`, or `flavor.tag: trixie` for a field of a mapping value).
"""

from __future__ import annotations

import itertools
import re

import difflib

from publisher.matrix.source import MISSING, Source, Where, describe, mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\}")
EXPANDED_FIELDS = ("name", "base", "family", "tags", "platforms", "smoke")
RUN_TIME = "version"  # filled in when the smoke tests run, not here


CELL_KEYS = ("exclude", "overrides")


def expand(src: Source, where: Where, entry: dict, keys: set[str]) -> list[dict]:
    """The concrete entries of one variant entry, in axis order (first axis outermost).

    `keys`: the keys a variant entry may have, which an override may set."""
    axes = entry.get("expand")
    if axes is None:
        for key in CELL_KEYS:
            if key in entry:
                src.error(where + (key,), f"{describe(where + (key,))} chooses cells of axes, and this entry has no 'expand:'; add the axes or drop it")
        return [{k: v for k, v in entry.items() if k not in CELL_KEYS}]
    if not isinstance(axes, dict) or not axes or not all(isinstance(v, list) and v for v in axes.values()):
        src.error(where + ("expand",), f"{describe(where + ('expand',))} must map each axis name to a non-empty list")
        return []
    names = list(axes)
    for name, values in axes.items():
        for j, value in enumerate(values):
            if isinstance(value, float):
                src.error(where + ("expand", name, j), f"axis '{name}' value {value!r} is read as a number; quote it, e.g. \"3.10\"")
    points = [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]
    excluded = _cells(src, where + ("exclude",), entry.get("exclude", []), points, set())
    overrides = _cells(src, where + ("overrides",), entry.get("overrides", []), points, keys - {"expand", *CELL_KEYS})
    concrete = []
    for n, point in enumerate(points):
        if any(n in chosen for chosen, _ in excluded):
            continue
        fields = {k: (where + (k,), v) for k, v in entry.items() if k not in ("expand", *CELL_KEYS)}
        for chosen, (at, changes) in overrides:
            if n in chosen:
                fields.update({k: (at + (k,), v) for k, v in changes.items() if k != "when" and k in keys})
        concrete.append({k: _fill(src, at, v, point) if k in EXPANDED_FIELDS else v for k, (at, v) in fields.items()})
    return concrete


def _cells(src: Source, where: Where, value: object, points: list[dict], keys: set[str]) -> list[tuple[set[int], tuple]]:
    """For each item of `exclude` (a cell condition) or `overrides` (`when:` and fields): the cells it chooses."""
    if not isinstance(value, list):
        src.error(where, f"{describe(where)} must be a list")
        return []
    found = []
    for i, item in enumerate(value):
        at = where + (i,)
        if keys:  # an override: `when:` plus the fields it sets
            item = mapping(src, at, item, required={"when"}, optional=keys)
            condition, at_condition = item.get("when", MISSING), at + ("when",)
        else:
            condition, at_condition = item, at
        chosen = _matching(src, at_condition, condition, points)
        if chosen is not None:
            found.append((chosen, (at, item if keys else {})))
    return found


def _matching(src: Source, where: Where, condition: object, points: list[dict]) -> set[int] | None:
    if condition is MISSING:
        return None
    if not isinstance(condition, dict) or not condition:
        src.error(where, f"{describe(where)} must map axes to values, e.g. {{python: \"3.9\"}}")
        return None
    axes = list(points[0])
    for key in condition:
        if key.split(".")[0] not in axes:
            near = difflib.get_close_matches(key.split(".")[0], axes, n=1)
            src.error(where + (key,), f"'{key}' in {describe(where)} names no axis; " + (f"did you mean '{near[0]}'?" if near else f"axes: {', '.join(axes)}"))
            return None
    chosen = {n for n, point in enumerate(points) if all(_value(point, key) == want for key, want in condition.items())}
    if not chosen:
        src.error(where, f"{describe(where)} matches no cell of the axes; check its values (quote versions, e.g. \"3.10\")")
    return chosen


def _value(point: dict, key: str) -> object:
    axis, _, field = key.partition(".")
    value = point[axis]
    return value.get(field) if field and isinstance(value, dict) else (MISSING if field else value)


def _fill(src: Source, where: Where, value: object, point: dict) -> object:
    if isinstance(value, list):
        return [_fill(src, where + (i,), item, point) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: _fill(src, where + (k,), item, point) for k, item in value.items()}
    if not isinstance(value, str):
        return value

    failed = []

    def one(m: re.Match) -> str:
        axis, key = m.group(1), m.group(2)
        if axis == RUN_TIME and axis not in point:
            return m.group(0)
        if axis not in point:
            src.error(where, f"'{m.group(0)}' in {describe(where)} names no axis; axes: {', '.join(point)}")
            failed.append(m)
            return m.group(0)
        chosen = point[axis]
        if key is None and not isinstance(chosen, dict):
            return str(chosen)
        if isinstance(chosen, dict) and key in chosen:
            return str(chosen[key])
        src.error(where, f"'{m.group(0)}' in {describe(where)}: axis '{axis}' value {chosen!r} has no such field")
        failed.append(m)
        return m.group(0)

    filled = PLACEHOLDER.sub(one, value)
    return MISSING if failed else filled  # reported once here, not again as an invalid value
