"""Package database scans of layers, kept in the cache by layer digest: each layer is read once.

A layer is read as a stream (`image.packages.scan_layer` keeps only the package databases and
os-release), never unpacked. The scan is a few KB of JSON; a base layer shared by many variants,
or by the next release, is not read again.
"""

from __future__ import annotations

import os
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image.oci import Blob
from publisher.image.packages import CACHE_FORMAT, LayerPackages, OsPackages, merge, scan_layer

SCANNABLE = ("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar")


class Scans:
    def __init__(self, cache: Path):
        self.folder = cache / "packages"

    def packages(self, layers: tuple[Blob, ...]) -> OsPackages:
        """The OS packages the image made of `layers` (bottom first) has installed."""
        return merge([self.layer(blob) for blob in layers])

    def layer(self, blob: Blob) -> LayerPackages:
        path = self.folder / f"{blob.digest.split(':')[1]}.{CACHE_FORMAT}.json"
        if path.exists():
            return LayerPackages.from_json(path.read_bytes())
        if blob.media_type not in SCANNABLE:  # zstd: no reader in the standard library
            raise PublisherError(f"publisher: layer {blob.digest} is {blob.media_type}; the SBOM cannot read "
                                 "its packages; choose a base with gzip layers")
        with blob.path.open("rb") as stream:
            found = scan_layer(stream)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(found.to_json())
        os.replace(partial, path)  # publishes sharing the cache never read half a scan
        return found
