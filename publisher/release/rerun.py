"""Whether a rerun has anything to do: every tag of every repository already holds what this flow would
publish, made from the same inputs (release/inputs). Then nothing is built: the run that pushed it built,
smoke-tested and verified exactly that content.
"""

from __future__ import annotations

from publisher.release import inputs
from publisher.release.resolved import Resolved
from publisher.release.tags import is_floating


def up_to_date(resolved: Resolved, states: dict, replay: bool = False) -> bool:
    """Every tag of every repository holds one index per variant, made from the inputs it would be now.

    Exact tags may instead hold this release as first published on an earlier base (a base refresh
    moved only the floating tags); with `replay` (a join of stage records made before), floating tags
    may too: a rerun of a join does not undo a refresh.
    """
    plan = resolved.plan
    for ref, current in states.items():
        for v in plan.variants_in(ref):
            mine = resolved[v.variant.name]
            for floating in (False, True):
                held = [current[tag] for tag in v.tags if is_floating(tag, plan.release) == floating]
                kept = [c.inputs == mine.inputs or ((replay or not floating) and inputs.as_published(
                            v, c, resolved.payload, resolved.context, mine.platforms)) for c in held]
                if held and (held[0].digest is None or any(c.digest != held[0].digest for c in held) or not all(kept)):
                    return False
    return True
