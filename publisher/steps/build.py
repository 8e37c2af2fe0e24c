"""Build with BuildKit: the primary image where it is not assembled, then the derived images that are not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from publisher.image.platform import Platform
from publisher.image.recipe import PRIMARY_ARG
from publisher.local.contexts import build_contexts
from publisher.local.engine import Build, Engine
from publisher.local.names import OwnName
from publisher.holdings.bases import Bases
from publisher.release.plan import CREATED, Plan, VariantPlan
from publisher.steps.run import Run


def build_all(run: Run, plan: Plan, engine: Engine, bases: Bases, binaries: dict[Platform, Path], primary: list[Platform],
              derived: list[tuple[VariantPlan, Platform]], names: dict[Platform, OwnName], tick) -> dict[tuple[str, Platform], str]:
    """(variant name, platform) → image ID, for `plan`'s primary on each of `primary` (platforms) and each of
    `derived`. `names`: platform → the primary in the engine, where it was assembled instead."""
    options = run.options
    with build_contexts(binaries, plan.payload.files, primary) as contexts, ThreadPoolExecutor(options.jobs) as pool:
        builds = [_build_request(run, plan.primary, contexts.payload[p], p, _base_arg(plan.primary, bases)) for p in primary]
        built = {(plan.primary.variant.name, p): image for p, image in zip(primary, pool.map(_ticking(engine, tick), builds))}
        names = {**names, **{p: engine.local_name(image) for (_, p), image in built.items()}}
        builds = [_build_request(run, v, contexts.empty, p, _args(names[p], v, bases)) for v, p in derived]
        built.update({(v.variant.name, p): image for (v, p), image in zip(derived, pool.map(_ticking(engine, tick), builds))})
    return built


def _ticking(engine: Engine, tick):
    def build(b: Build) -> str:
        image = engine.build(b)
        tick(f"{b.dockerfile.parent.name} {b.platform}")
        return image

    return build


def _args(primary: OwnName, v: VariantPlan, bases: Bases) -> dict:
    """The primary in the engine, and where the base is read when that is not what the Dockerfile names."""
    return {PRIMARY_ARG: str(primary), **_base_arg(v, bases)}


def _base_arg(v: VariantPlan, bases: Bases) -> dict:
    """BASE_IMAGE, where the base is read when that is not what the Dockerfile names (none FROM scratch)."""
    read = bases.looked_up(v.variant.base) if v.variant.base else None
    return {"BASE_IMAGE": str(read)} if read and read != v.variant.base else {}


def _build_request(run: Run, v: VariantPlan, context: Path, platform: Platform, args: dict) -> Build:
    return Build(run.options.root / v.dockerfile, context, platform, args, v.labels, run.options.build_cache,
                 _epoch(v.labels.get(CREATED)))


def _epoch(created: str | None) -> int | None:
    """SOURCE_DATE_EPOCH of the release's time (RFC 3339, UTC)."""
    return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()) if created else None
