"""Records of exported images, kept in the cache by image ID: a rerun does not export the same image twice."""

from __future__ import annotations

import json
import os
from pathlib import Path

from publisher.image.oci import Blob, Image
from publisher.image.platform import Platform

RECORD_FORMAT = 4  # bump when what an image record holds changes, so old records are not reused
# 4: layers saved from the containerd store are gunzipped before they are compressed (3 gzipped them twice)


class ImageRecords:
    def __init__(self, cache: Path):
        self.folder = cache / "images"

    def get(self, image_id: str, platform: Platform) -> Image | None:
        """The pushable Image recorded for this image ID, if every layer it names is still there."""
        record = self._path(image_id)
        if not record.exists():
            return None
        saved = json.loads(record.read_text())
        layers = tuple(Blob(b["digest"], b["size"], Path(b["path"])) for b in saved["layers"])
        if not all(b.path.exists() for b in layers):
            return None
        return Image(platform, bytes.fromhex(saved["config"]), layers)

    def put(self, image_id: str, image: Image) -> None:
        record = self._path(image_id)
        record.parent.mkdir(parents=True, exist_ok=True)
        saved = {"config": image.config.hex(),
                 "layers": [{"digest": b.digest, "size": b.size, "path": str(b.path)} for b in image.layers]}
        partial = record.with_name(f"{record.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(saved))
        os.replace(partial, record)  # a publish killed here leaves no half-written record

    def _path(self, image_id: str) -> Path:
        return self.folder / f"{image_id.split(':')[1]}.{RECORD_FORMAT}.json"
