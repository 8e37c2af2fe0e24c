"""A registry host, as the steps use it: blobs, manifests and tags over one stack of layers."""

from __future__ import annotations

from publisher.remote.blobs import Blobs
from publisher.remote.manifests import Manifests
from publisher.remote.tags import Tags


class Registry(Blobs, Manifests, Tags):
    """One registry host, with its credentials; safe to share between threads."""
