"""Build with BuildKit: the primary image on every platform, then the derived images that are not assembled."""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from publisher.image import reference
from publisher.image.recipe import PRIMARY_ARG
from publisher.local.engine import Build, Engine
from publisher.release.plan import VariantPlan
from publisher.steps.run import Run

# Fixed mtime for the binaries in the build context: the same release builds the same layer.
MTIME = 0


def mirrored(base: str, mirror: str | None) -> str | None:
    """`alpine:3.20` through mirror `HOST[/PREFIX]` is `HOST[/PREFIX]/library/alpine:3.20`."""
    if not mirror:
        return None
    ref = reference.parse(base)
    name = f"{mirror.rstrip('/')}/{ref.path}"
    return name + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")


def build_all(run: Run, engine: Engine, binaries: dict[str, Path], derived: list[tuple[VariantPlan, str]],
              tick) -> dict[tuple[str, str], str]:
    """(variant name, platform) → image ID, for the primary on every platform and each of `derived`."""
    primary, options = run.plan.primary, run.options
    with tempfile.TemporaryDirectory(prefix="publisher-") as tmp, ThreadPoolExecutor(options.jobs) as pool:
        files = run.plan.payload.files
        contexts = [_stage(binaries[p], files, Path(tmp) / p.replace("/", "-")) for p in run.platforms]
        builds = [_build(run, primary, c, p, {}) for c, p in zip(contexts, run.platforms)]
        built = {(primary.variant.name, p): image for p, image in zip(run.platforms, pool.map(_ticking(engine, tick), builds))}
        empty = Path(tmp) / "empty"
        empty.mkdir()
        builds = [_build(run, v, empty, p, _args(engine, built[primary.variant.name, p], v, options.base_mirror))
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


def _build(run: Run, v: VariantPlan, context: Path, platform: str, args: dict) -> Build:
    return Build(run.options.root / v.dockerfile, context, platform, args, v.labels, run.options.build_cache)


def _stage(folder: Path, files: tuple[str, ...], context: Path) -> Path:
    context.mkdir(parents=True)
    for name in files:
        target = context / name
        shutil.copyfile(folder / name, target)
        target.chmod(0o755)
        os.utime(target, (MTIME, MTIME))
    return context
