"""The names a publish gives its own images in the engine, made and read here only."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL = "publisher-build"  # the engine's repository for a publish's images between build and push; never pushed


@dataclass(frozen=True, order=True)
class OwnName:
    """An image's name in the engine while one publish holds it, `publisher-build:<its ID's hex>-<the publish>`:
    a later build can pin it (BuildKit cannot use a bare ID), and another publish on the engine has its own."""

    tag: str

    @classmethod
    def of(cls, image_id: str, session: str) -> OwnName:
        """The name of the image `image_id` (`sha256:<hex>`) for the publish `session`."""
        return cls(f"{image_id.split(':')[1]}-{session}")

    def __str__(self) -> str:
        return f"{LOCAL}:{self.tag}"

    @property
    def in_full(self) -> str:
        """As the containerd store names it: `docker.io/library/publisher-build:TAG`."""
        return f"docker.io/library/{self}"
