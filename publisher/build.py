"""Build every variant for every platform: the primary image first, then the derived ones FROM it."""

from __future__ import annotations

import os
import shutil
import tempfile
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


def build_all(engine: Engine, plan: Plan, root: Path, binaries: dict[str, Path], base_mirror: str | None) -> dict:
    """(variant name, platform) → image ID, for the primary and every selected variant."""
    built = {}
    platforms = sorted({p for v in plan.variants for p in v.variant.platforms})  # each needs the primary
    with tempfile.TemporaryDirectory(prefix="publisher-") as tmp:
        for platform in platforms:
            context = _stage(binaries[platform], Path(tmp) / platform.replace("/", "-"))
            built[plan.primary.variant.name, platform] = engine.build(_build(root, plan.primary, context, platform, {}))
        empty = Path(tmp) / "empty"
        empty.mkdir()
        for v in plan.variants:
            if v.variant.primary:
                continue
            for platform in v.variant.platforms:
                args = {"UV_IMAGE": engine.local_name(built[plan.primary.variant.name, platform])}
                base = mirrored(v.variant.base, base_mirror)
                if base:
                    args["BASE_IMAGE"] = base
                built[v.variant.name, platform] = engine.build(_build(root, v, empty, platform, args))
    return built


def _build(root: Path, v: VariantPlan, context: Path, platform: str, args: dict) -> Build:
    return Build(root / v.dockerfile, context, platform, args, v.labels)


def _stage(folder: Path, context: Path) -> Path:
    context.mkdir(parents=True)
    for name in ("uv", "uvx"):
        target = context / name
        shutil.copyfile(folder / name, target)
        target.chmod(0o755)
        os.utime(target, (MTIME, MTIME))
    return context
