"""Build every variant for every platform: the primary image first, then the derived ones FROM it."""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from publisher import reference
from publisher.engine import Build, Engine
from publisher.plan import Plan, VariantPlan

# Fixed mtime for the binaries in the build context: the same release builds the same layer.
MTIME = 0


def mirrored(base: str, mirror: str | None) -> str | None:
    """`alpine:3.20` through mirror `HOST[/PREFIX]` is `HOST[/PREFIX]/library/alpine:3.20`."""
    if not mirror:
        return None
    ref = reference.parse(base)
    name = f"{mirror.rstrip('/')}/{ref.path}"
    return name + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")


def build_all(engine: Engine, plan: Plan, root: Path, binaries: dict[str, Path], base_mirror: str | None,
              derived: list[tuple[VariantPlan, str]], jobs: int = 1, tick=lambda item: None, cache: bool = True) -> dict:
    """(variant name, platform) → image ID, for the primary on every platform and each of `derived`."""
    platforms = sorted({p for v in plan.variants for p in v.variant.platforms})  # each needs the primary
    primary = plan.primary.variant.name
    with tempfile.TemporaryDirectory(prefix="publisher-") as tmp, ThreadPoolExecutor(jobs) as pool:
        contexts = [_stage(binaries[p], Path(tmp) / p.replace("/", "-")) for p in platforms]
        builds = [_build(root, plan.primary, c, p, {}, cache) for c, p in zip(contexts, platforms)]
        built = {(primary, p): image for p, image in zip(platforms, pool.map(_ticking(engine, tick), builds))}
        empty = Path(tmp) / "empty"
        empty.mkdir()
        builds = [_build(root, v, empty, p, _args(engine, built[primary, p], v, base_mirror), cache) for v, p in derived]
        built.update({(v.variant.name, p): image for (v, p), image in zip(derived, pool.map(_ticking(engine, tick), builds))})
    return built


def _ticking(engine: Engine, tick):
    def build(b: Build) -> str:
        image = engine.build(b)
        tick(f"{b.dockerfile.parent.name} {b.platform}")
        return image

    return build


def _args(engine: Engine, primary_image: str, v: VariantPlan, base_mirror: str | None) -> dict:
    args = {"UV_IMAGE": engine.local_name(primary_image)}
    base = mirrored(v.variant.base, base_mirror)
    if base:
        args["BASE_IMAGE"] = base
    return args


def _build(root: Path, v: VariantPlan, context: Path, platform: str, args: dict, cache: bool) -> Build:
    return Build(root / v.dockerfile, context, platform, args, v.labels, cache)


def _stage(folder: Path, context: Path) -> Path:
    context.mkdir(parents=True)
    for name in ("uv", "uvx"):
        target = context / name
        shutil.copyfile(folder / name, target)
        target.chmod(0o755)
        os.utime(target, (MTIME, MTIME))
    return context
