"""Derived images made from their base and the shared uv layer (see recipe), then loaded into the engine.

What the engine runs for the smoke tests and what is pushed are the same config and the same layers:
the image is loaded from exactly the bytes publisher will upload.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from publisher import canonical, oci, recipe
from publisher.bases import BaseImage, Bases
from publisher.engine import Engine
from publisher.oci import Image
from publisher.plan import CREATED, VariantPlan
from publisher.recipe import Recipe


def assemble_all(engine: Engine, bases: Bases, wanted: list[tuple[VariantPlan, str, Recipe]], binaries: dict[str, Path],
                 cache: Path, jobs: int, network: Executor, tick) -> dict[tuple[str, str], tuple[Image, str]]:
    """(variant name, platform) → (the image to push, its name in the engine)."""
    pairs = sorted({(v.variant.base, p) for v, p, _ in wanted})
    fetched = dict(zip(pairs, network.map(lambda pair: bases.image(*pair), pairs)))
    keys = sorted({(p, r.target) for _, p, r in wanted})
    layers = dict(zip(keys, network.map(lambda key: _uv_layer(binaries[key[0]], cache, key[1]), keys)))

    def one(item):
        v, platform, r = item
        image, name = _assemble(engine, v, platform, r, fetched[v.variant.base, platform], layers[platform, r.target])
        tick(f"{v.variant.name} {platform}")
        return (v.variant.name, platform), (image, name)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda base: _load_base(engine, base), fetched.values()))
        return dict(pool.map(one, wanted))


def _uv_layer(binaries: Path, cache: Path, target: str) -> tuple[Path, str, oci.Blob]:
    """The canonical uv layer: its tar, its diff ID and its compressed blob; one per platform and folder."""
    (cache / "blobs").mkdir(parents=True, exist_ok=True)
    tar = canonical.canonical_tar(binaries, cache / "blobs", target)
    diff_id = oci.file_digest(tar)
    return tar, diff_id, oci.compress_layer(tar, cache / "blobs", diff_id)


def _load_base(engine: Engine, base: BaseImage) -> None:
    name = engine.local_name(oci.digest(base.config))
    if not engine.has(name):
        engine.load(name, base.config, [layer.path for layer in base.layers])


def _assemble(engine: Engine, v: VariantPlan, platform: str, r: Recipe, base: BaseImage,
              uv: tuple[Path, str, oci.Blob]) -> tuple[Image, str]:
    tar, diff_id, blob = uv
    config = recipe.config(base.config, r, diff_id, v.labels, v.labels.get(CREATED), v.variant.base)
    name = engine.local_name(oci.digest(config))
    if not engine.has(name):
        engine.load(name, config, [*(layer.path for layer in base.layers), tar], held=len(base.layers))
    return Image(platform, config, (*base.layers, blob)), name
