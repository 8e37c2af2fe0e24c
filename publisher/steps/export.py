"""Export what BuildKit built into pushable Images: config and gzip layers, made canonical (see image.canonical)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from publisher.image.platform import Platform
from publisher.image.oci import Image
from publisher.local import layers as local_layers
from publisher.local.cache import ImageRecords
from publisher.local.layers import PayloadFiles
from publisher.local.engine import Engine
from publisher.matrix.payload import Payload
from publisher.release.plan import CREATED, VariantPlan
from publisher.release.resolved import Resolved
from publisher.steps.run import Run


def export_all(run: Run, resolved: Resolved, engine: Engine, built: dict[tuple[str, Platform], str], binaries: dict[Platform, Path],
               tick) -> dict[tuple[str, Platform], Image]:
    """(variant, platform) → the pushable Image of each published image BuildKit built; once per image ID."""
    wanted = [(v, p) for v in resolved.plan.variants for p in resolved.platforms_of(v) if (v.variant.name, p) in built]
    records, declared = ImageRecords(run.options.cache), resolved.plan.payload

    def one(item: tuple[VariantPlan, str]) -> Image:
        v, platform = item
        image_id = built[v.variant.name, platform]
        image = records.get(image_id, platform)
        if image is None:
            payload = _payload_files(v, binaries[platform], declared)
            image = _export(engine, v, platform, image_id, payload, run)
            records.put(image_id, image)
        tick(f"{v.variant.name} {platform}")
        return image

    with ThreadPoolExecutor(run.options.jobs) as pool:
        exported = list(pool.map(one, wanted))
    return dict(zip(((v.variant.name, p) for v, p in wanted), exported))


def _payload_files(v: VariantPlan, folder: Path, declared: Payload) -> PayloadFiles | None:
    """The files an image's last layer holds where it copies the payload: a derived image's, or a primary's on a
    base (a primary FROM scratch ends with its WORKDIR)."""
    if v.variant.primary:
        return PayloadFiles(folder, declared.files, declared.primary.strip("/")) if v.variant.base else None
    return PayloadFiles(folder, declared.files, declared.target)


def _export(engine: Engine, v: VariantPlan, platform: Platform, image_id: str, payload: PayloadFiles | None, run: Run) -> Image:
    """`payload`: for a derived image, the files its last layer holds; the primary's WORKDIR otherwise."""
    workdir = (v.variant.config.get("workdir") or "").strip("/") or None
    saved = local_layers.saved_image(engine, image_id, payload, workdir, run.options.cache, v.labels.get(CREATED))
    return Image(platform, saved.config, saved.layers)
