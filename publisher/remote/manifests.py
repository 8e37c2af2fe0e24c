"""Manifests: put (by digest or tag), get and head; read-after-write lag asked again within the budget.

Each takes a reference, a `Tag` or a `Digest` (image/reference): which one it is says how the answer is
checked, never the text of what follows /manifests/.
"""

from __future__ import annotations

import json

from publisher.image.oci import ACCEPT, INDEXES
from publisher.image.oci import digest as sha256_digest
from publisher.image.reference import Digest, Reference
from publisher.remote.client import Call, Client
from publisher.remote.errors import RegistryError

# What a manifest put by digest may meet while a blob it names is being committed again.
HIDDEN_BLOB = frozenset({"MANIFEST_BLOB_UNKNOWN", "DIGEST_INVALID"})


class Manifests(Client):
    def put_manifest(self, ref: Reference, body: bytes, media_type: str) -> str:
        digest = sha256_digest(body)
        if isinstance(ref, Digest) and ref.digest != digest:
            raise ValueError(f"a manifest put at {ref.digest} has the digest {digest}")
        call = Call("PUT", f"/manifests/{ref.identifier}", f"manifest {ref.identifier}", ok=(201,), push=True,
                    headers={"Content-Type": media_type}, body=body)
        attempts = self.policy.attempt()
        while True:
            try:
                response = self.call(ref.path, call)
                break
            except RegistryError as error:
                if isinstance(ref, Digest) and self._head_manifest(ref) == digest:
                    return digest  # by digest: already there is exactly this body, whoever put it
                # A publish racing ours may be committing the same blob just now: the registry hides
                # it for a moment (seen with two processes pushing one release at once), or reads its
                # link file half rewritten as an invalid digest (distribution 2.8; ours is checked above).
                if isinstance(ref, Digest) and error.code in HIDDEN_BLOB and attempts.again():
                    continue
                raise self._explained(error, call, media_type) from None
        reported = response.headers.get("Docker-Content-Digest")
        if reported and reported != digest:
            raise RegistryError(self.host, ref.path, "PUT", call.what, f"registry stored {reported}, the body's digest is {digest}")
        self.transport.count("manifest_puts")
        return digest

    def _explained(self, error: RegistryError, call: Call, media_type: str) -> RegistryError:
        if _refused_type(error) and media_type in INDEXES:
            return RegistryError(self.host, error.repo, "PUT", call.what, f"{error.reason}; the registry does not "
                                 f"take the media type {media_type} (an OCI image index): publish to a registry "
                                 "that supports OCI indexes", error.status, error.code)
        return error

    def get_manifest(self, ref: Reference) -> tuple[str, bytes, str] | None:
        """(media type, body, digest), or None if the registry has no such manifest."""
        call = Call("GET", f"/manifests/{ref.identifier}", f"manifest {ref.identifier}", ok=(200, 404), headers={"Accept": ACCEPT})
        response = self.call(ref.path, call)
        if response.status_code == 404:
            if self.codes(response) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}:
                return None
            raise self.error(response, ref.path, call)
        body, digest = response.content, sha256_digest(response.content)
        if isinstance(ref, Digest) and digest != ref.digest:
            raise RegistryError(self.host, ref.path, "GET", call.what, f"body's digest is {digest}")
        media_type = response.headers.get("Content-Type", "").partition(";")[0].strip()
        return media_type or _body_media_type(body), body, digest

    def head_manifest(self, ref: Reference, expect: str | None = None) -> str | None:
        """The manifest's digest, or None if the registry has no such manifest.

        With `expect`, "unknown" is asked again within the retry budget: right after a push,
        registries may answer from a replica that has not seen it yet. Another digest is an
        answer, not lag: someone else wrote the tag.
        """
        attempts = self.policy.attempt()
        while True:
            found = self._head_manifest(ref)
            if expect is None or found is not None or not attempts.again():
                return found

    def _head_manifest(self, ref: Reference) -> str | None:
        call = Call("HEAD", f"/manifests/{ref.identifier}", f"manifest {ref.identifier}", ok=(200, 404), headers={"Accept": ACCEPT})
        response = self.call(ref.path, call)
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        found = self.get_manifest(ref)
        return found[2] if found else None


def _refused_type(error: RegistryError) -> bool:
    return error.status == 415 or error.code in ("MANIFEST_INVALID", "UNSUPPORTED")


def _body_media_type(body: bytes) -> str:
    try:
        return json.loads(body).get("mediaType") or ""
    except (ValueError, AttributeError):
        return ""
