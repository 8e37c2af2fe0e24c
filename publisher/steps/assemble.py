"""Derived images made from their base and the shared payload layer (see recipe), then loaded into the engine.

What the engine runs for the smoke tests and what is pushed are the same config and the same layers:
the image is loaded from exactly the bytes publisher will upload.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.image import oci, recipe
from publisher.image.oci import Image
from publisher.image.recipe import Recipe
from publisher.local.engine import Engine
from publisher.local.layers import PayloadFiles, PayloadLayer, payload_layer
from publisher.release.plan import CREATED, VariantPlan
from publisher.registries.bases import FetchedBase, Bases
from publisher.steps.run import Run


@dataclass(frozen=True)
class Assembled:
    image: Image  # what is pushed
    name: str  # what the engine runs for the smoke tests: the same bytes


def assemble_all(run: Run, engine: Engine, bases: Bases, binaries: dict[str, Path],
                 wanted: list[tuple[VariantPlan, str, Recipe]], tick) -> dict[tuple[str, str], Assembled]:
    """(variant name, platform) → the assembled image, loaded into the engine."""
    network, cache = run.network, run.options.cache
    pairs = sorted({(v.variant.base, p) for v, p, _ in wanted})
    fetched = dict(zip(pairs, network.map(lambda pair: bases.image(*pair), pairs)))
    keys = sorted({(p, r.target) for _, p, r in wanted})
    files = run.plan.payload.files
    layers = dict(zip(keys, network.map(lambda key: payload_layer(PayloadFiles(binaries[key[0]], files, key[1]), cache), keys)))

    def one(item):
        v, platform, r = item
        made = _assemble(engine, v, platform, r, fetched[v.variant.base, platform], layers[platform, r.target])
        tick(f"{v.variant.name} {platform}")
        return (v.variant.name, platform), made

    with ThreadPoolExecutor(run.options.jobs) as pool:
        list(pool.map(lambda base: _load_base(engine, base), fetched.values()))
        return dict(pool.map(one, wanted))


def _load_base(engine: Engine, base: FetchedBase) -> None:
    name = engine.local_name(oci.digest(base.config))
    if not engine.has(name):
        engine.load(name, base.config, [layer.path for layer in base.layers])


def _assemble(engine: Engine, v: VariantPlan, platform: str, r: Recipe, base: FetchedBase,
              payload: PayloadLayer) -> Assembled:
    config = recipe.config(base.config, r, payload.diff_id, v.labels, v.labels.get(CREATED), v.variant.base)
    name = engine.local_name(oci.digest(config))
    if not engine.has(name):
        engine.load(name, config, [*(layer.path for layer in base.layers), payload.tar], held=len(base.layers))
    return Assembled(Image(platform, config, (*base.layers, payload.blob)), name)
