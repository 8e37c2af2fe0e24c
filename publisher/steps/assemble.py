"""Images made from their base and layers publisher writes itself (see recipe), then loaded into the engine:
derived images (their base and the shared payload layer) and the primary (the payload layer on its base, or
FROM scratch with its WORKDIR's).

What the engine runs for the smoke tests and what is pushed are the same config and the same layers:
the image is loaded from exactly the bytes publisher will upload.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.image.platform import Platform
from publisher.image import oci, recipe
from publisher.image.oci import Image
from publisher.image.recipe import Recipe, Step
from publisher.image.reference import Digest, Reference
from publisher.local.engine import Engine
from publisher.local.layers import CanonicalLayer, PayloadFiles, folder_layer, payload_layer
from publisher.local.names import OwnName
from publisher.release.plan import CREATED, VariantPlan
from publisher.holdings.bases import FetchedBase, Bases
from publisher.remote import credentials
from publisher.steps.run import Run


@dataclass(frozen=True)
class Assembled:
    image: Image  # what is pushed
    name: OwnName  # what the engine runs for the smoke tests: the same bytes


def assemble_all(run: Run, engine: Engine, bases: Bases, binaries: dict[Platform, Path], files: tuple[str, ...],
                 wanted: list[tuple[VariantPlan, Platform, Recipe]], tick, told) -> dict[tuple[str, Platform], Assembled]:
    """(variant name, platform) → the assembled image, loaded into the engine; `told(key, name)` as each is.
    `files`: the payload's files (matrix.yaml's `payload: files:`), in each folder of `binaries`."""
    pairs = sorted({(r.base, p) for _, p, r in wanted if r.base}, key=lambda pair: (str(pair[0]), pair[1]))
    fetched = dict(zip(pairs, run.network.map(lambda pair: bases.image(*pair), pairs)))
    fetched |= {(None, p): FetchedBase(recipe.scratch_config(p), ()) for _, p, r in wanted if r.base is None}  # FROM scratch
    layers = _payload_layers(run, binaries, files, wanted)
    downloads = _downloads(run, bases, {pair: fetched[pair] for pair in pairs})

    def one(item):
        v, platform, r = item
        if (r.base, platform) in downloads:
            downloads[r.base, platform].result()  # an engine that refuses the archive without them gets every layer
        made = _assemble(engine, v, platform, r, fetched[r.base, platform], [layers[platform, s] for s in r.layers])
        tick(f"{v.variant.name} {platform}")
        told((v.variant.name, platform), str(made.name))
        return (v.variant.name, platform), made

    platforms = {b: p for (_, p), b in fetched.items()}
    downloaded = {b: downloads[pair] for pair, b in fetched.items() if pair in downloads}
    on = {b: [item for item in wanted if fetched[item[2].base, item[1]] == b] for b in fetched.values()}
    with ThreadPoolExecutor(run.options.jobs) as pool:
        def base_then_images(base: FetchedBase) -> list[Future]:
            """A base in, then the images on it: made (and smoke-tested) while later bases come in."""
            _load_base(run, engine, base, platforms[base], downloaded[base])
            return [pool.submit(one, item) for item in on[base]]

        images = [pool.submit(one, item) for b, items in on.items() if not b.layers for item in items]
        for wave in _waves([b for b in fetched.values() if b.layers]):
            images += [f for started in [pool.submit(base_then_images, b) for b in wave] for f in started.result()]
        made = dict(f.result() for f in images)
    for download in downloads.values():
        download.result()
    return {key: made[key] for key in ((v.variant.name, p) for v, p, _ in wanted)}


def _payload_layers(run: Run, binaries: dict[Platform, Path], files: tuple[str, ...],
                    wanted) -> dict[tuple[Platform, Step], CanonicalLayer]:
    """(platform, step) → the layer publisher writes for that step of a recipe: each made once."""
    keys = sorted({(p, step) for _, p, r in wanted for step in r.layers}, key=lambda key: (key[0], key[1].line))
    cache = run.options.cache

    def layer(key: tuple[Platform, Step]) -> CanonicalLayer:
        platform, step = key
        if step.kind == "WORKDIR":
            return folder_layer(step.value, cache)
        return payload_layer(PayloadFiles(binaries[platform], step.files or files, step.value), cache)

    return dict(zip(keys, run.network.map(layer, keys)))


def _downloads(run: Run, bases: Bases, fetched: dict[tuple[Reference, Platform], FetchedBase]) -> dict[tuple[Reference, Platform], Future]:
    """Each base's blobs into publisher's cache, for the push and the SBOM: the engine pulls the same
    layers itself meanwhile (see _load_base)."""
    return {pair: run.network.submit(bases.download, pair[0], base) for pair, base in fetched.items()}


def _waves(bases: list[FetchedBase]) -> list[list[FetchedBase]]:
    """The bases in waves, loaded one wave after another: a base that shares its first layers with another
    (python:3.12-bookworm on buildpack-deps:bookworm) comes a wave after it, and sends only the rest."""
    order = sorted(dict.fromkeys(bases), key=lambda b: len(b.layers))
    level: dict[FetchedBase, int] = {}
    for i, base in enumerate(order):
        partner = max(order[:i], key=lambda o: (_shared(o, base), -level[o]), default=None)
        level[base] = level[partner] + 1 if partner is not None and _shared(partner, base) else 0
    return [[b for b in order if level[b] == n] for n in range(max(level.values(), default=-1) + 1)]


def _shared(a: FetchedBase, b: FetchedBase) -> int:
    """How many first layers two bases share."""
    return next((i for i, (x, y) in enumerate(zip(a.layers, b.layers)) if x.digest != y.digest), min(len(a.layers), len(b.layers)))


def _load_base(run: Run, engine: Engine, base: FetchedBase, platform: Platform, downloaded: Future) -> None:
    """The base into the engine: there already, pulled by the engine itself, or else loaded from the cache."""
    name, image = engine.local_name(oci.digest(base.config)), Image(platform, base.config, base.layers)
    if engine.has(name):
        return engine.remember(image)
    why = engine.pull(name, image, base.source, _auth(base.source))
    if why is None:
        return None
    run.progress.log(f"the engine did not pull {base.source} ({why}); loading it from publisher's cache instead")
    downloaded.result()
    engine.load(name, image)


def _auth(source: Digest) -> dict | None:
    """What the engine logs in with: publisher's own credentials for the base's registry (never logged)."""
    found = credentials.lookup(source.host)
    return None if found is None else {"username": found.username, "password": found.secret}


def _assemble(engine: Engine, v: VariantPlan, platform: Platform, r: Recipe, base: FetchedBase,
              layers: list[CanonicalLayer]) -> Assembled:
    config = recipe.config(base.config, r, [layer.diff_id for layer in layers], v.labels, v.labels.get(CREATED), str(v.variant.base))
    name, image = engine.local_name(oci.digest(config)), Image(platform, config, (*base.layers, *(layer.blob for layer in layers)))
    if not engine.has(name):
        engine.load(name, image, {layer.blob.digest: layer.tar for layer in layers})  # the base's layers are there: only the new ones are sent
    return Assembled(image, name)
