"""Build with BuildKit: the primary image on every platform, then the derived images that are not assembled."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from publisher.image.reference import mirrored
from publisher.image.recipe import PRIMARY_ARG
from publisher.local.contexts import build_contexts
from publisher.local.engine import Build, Engine
from publisher.release.plan import VariantPlan
from publisher.steps.run import Run


def build_all(run: Run, platforms: list[str], engine: Engine, binaries: dict[str, Path], derived: list[tuple[VariantPlan, str]],
              tick) -> dict[tuple[str, str], str]:
    """(variant name, platform) → image ID, for the primary on every platform of `platforms` (every one some
    variant is made for, as resolved) and each of `derived`."""
    primary, options = run.plan.primary, run.options
    with build_contexts(binaries, run.plan.payload.files, platforms) as contexts, ThreadPoolExecutor(options.jobs) as pool:
        builds = [_build_request(run, primary, contexts.payload[p], p, {}) for p in platforms]
        built = {(primary.variant.name, p): image for p, image in zip(platforms, pool.map(_ticking(engine, tick), builds))}
        builds = [_build_request(run, v, contexts.empty, p, _args(engine, built[primary.variant.name, p], v, options.base_mirror))
                  for v, p in derived]
        built.update({(v.variant.name, p): image for (v, p), image in zip(derived, pool.map(_ticking(engine, tick), builds))})
    return built


def _ticking(engine: Engine, tick):
    def build(b: Build) -> str:
        image = engine.build(b)
        tick(f"{b.dockerfile.parent.name} {b.platform}")
        return image

    return build


def _args(engine: Engine, primary_image: str, v: VariantPlan, base_mirror: str | None) -> dict:
    args = {PRIMARY_ARG: engine.local_name(primary_image)}
    base = mirrored(v.variant.base, base_mirror)
    if base:
        args["BASE_IMAGE"] = base
    return args


def _build_request(run: Run, v: VariantPlan, context: Path, platform: str, args: dict) -> Build:
    return Build(run.options.root / v.dockerfile, context, platform, args, v.labels, run.options.build_cache)
