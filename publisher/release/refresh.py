"""A base refresh: which variants of a published release to make again, and which of their tags move.

A variant is stale when one of its floating tags still points at this release (not a newer one) in
an index whose recorded base digest is not the digest its base resolves to now. A primary FROM
scratch never is; a primary on a base is like any other variant. A refresh moves only the floating
tags of the stale variants: their exact tags keep the content first published (see docs/publishing.md).
"""

from __future__ import annotations

from dataclasses import replace

from publisher.release.decisions import Current
from publisher.release.plan import Plan
from publisher.release.tags import is_floating


def stale(plan: Plan, states: dict[str, dict[str, Current]], bases: dict[str, str | None]) -> list[str]:
    """Names of the variants to refresh; `states`: repository → tag → Current, `bases`: variant → digest now."""
    names = []
    for v in plan.variants:
        now = bases.get(v.variant.name)
        if not v.variant.base or not now:
            continue
        held = [states[ref][tag] for ref in plan.repositories_of(v) if ref in states
                for tag in v.tags if is_floating(tag, plan.release)]
        if any(c.digest and c.version == plan.release.text and c.base_digest != now for c in held):
            names.append(v.variant.name)
    return names


def floating_only(plan: Plan, names: list[str]) -> Plan:
    """The plan cut to these variants, each with its floating tags only: the exact tags are not touched."""
    kept = tuple(replace(v, tags=tuple(t for t in v.tags if is_floating(t, plan.release)))
                 for v in plan.variants if v.variant.name in names)
    return replace(plan, variants=kept)
