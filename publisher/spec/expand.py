"""Axes: one matrix entry with `expand:` stands for the product of its axes' values."""

from __future__ import annotations

import itertools
import re

from publisher.spec.source import MISSING, Source, Where, describe

PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\}")
EXPANDED_FIELDS = ("name", "base", "family", "tags", "platforms", "smoke")
RUN_TIME = "version"  # filled in when the smoke tests run, not here


def expand(src: Source, where: Where, entry: dict) -> list[dict]:
    """The concrete entries of one variant entry, in axis order (first axis outermost)."""
    axes = entry.get("expand")
    if axes is None:
        return [entry]
    if not isinstance(axes, dict) or not axes or not all(isinstance(v, list) and v for v in axes.values()):
        src.error(where + ("expand",), f"{describe(where + ('expand',))} must map each axis name to a non-empty list")
        return []
    names = list(axes)
    for name, values in axes.items():
        for j, value in enumerate(values):
            if isinstance(value, float):
                src.error(where + ("expand", name, j), f"axis '{name}' value {value!r} is read as a number; quote it, e.g. \"3.10\"")
    concrete = []
    for values in itertools.product(*(axes[n] for n in names)):
        point = dict(zip(names, values))
        fields = {k: v for k, v in entry.items() if k != "expand"}
        for key in EXPANDED_FIELDS:
            if key in fields:
                fields[key] = _fill(src, where + (key,), fields[key], point)
        concrete.append(fields)
    return concrete


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
