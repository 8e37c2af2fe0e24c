"""A registry host, as the steps use it: blobs, manifests, tags and referrers over one stack of layers."""

from __future__ import annotations

from publisher.remote.blobs import Blobs
from publisher.remote.manifests import Manifests
from publisher.remote.referrers import Referrers
from publisher.remote.tags import Tags


class Registry(Referrers, Blobs, Manifests, Tags):
    """One registry host, with its credentials; safe to share between threads."""
