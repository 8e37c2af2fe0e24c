"""Referrers: what a registry lists as being about a manifest, and adding to that list.

Through the OCI 1.1 referrers API where the registry has it (`GET /v2/NAME/referrers/DIGEST` answers
an index); where it does not (404: distribution 2.8, `crane registry serve`, GHCR), through the
referrers tag schema: the tag `sha256-<hex>` holds the list, read, added to and written back, with
what others listed there kept (`image/referrers.with_referrers`). A referrer already listed is not
pushed again and the tag is not written: a rerun changes nothing.

No compare-and-swap exists on a tag: two writers adding to one list at the same moment may lose one
entry; the publish reads the lists back (`missing_referrers`) and says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.reference import Digest
from publisher.image.referrers import Referrer, listed, referrers_tag, with_referrers
from publisher.remote.blobs import Blobs
from publisher.remote.client import Call
from publisher.remote.errors import RegistryError
from publisher.remote.manifests import Manifests


@dataclass(frozen=True)
class Listing:
    """The referrers of one manifest: through the API (`api`), or the tag schema's index (`index`, None if no tag)."""

    api: bool
    index: bytes | None

    @property
    def descriptors(self) -> tuple[dict, ...]:
        return listed(self.index)

    @property
    def digests(self) -> set[str]:
        return {d["digest"] for d in self.descriptors}


@dataclass(frozen=True)
class Attached:
    pushed: tuple[str, ...]  # the digests of the referrers pushed (none: all listed already)


# What a registry without the referrers API answers for it (distribution 2.8: 404; others 400 or 405).
NO_API = (400, 404, 405)


class Referrers(Blobs, Manifests):
    """Each takes the manifest the referrers are about as a `Digest` (image/reference): its repository and digest."""

    def list_referrers(self, subject: Digest) -> Listing:
        what = f"referrers of {subject.digest}"
        call = Call("GET", f"/referrers/{subject.digest}", what, ok=(200, *NO_API), headers={"Accept": oci.INDEX})
        response = self.call(subject.path, call)
        if response.status_code == 200:
            return Listing(True, self._all_pages(subject.path, response, what))
        tag = subject.context.tag(referrers_tag(subject.digest))  # no API: the tag schema
        found = self.get_manifest(tag)
        return Listing(False, self._checked(subject.path, found[1], f"manifest {tag.identifier}") if found else None)

    def _all_pages(self, repo: str, response, what: str) -> bytes:
        """The API's answer as one index: its pages (`Link: <…>; rel="next"`) joined."""
        pages = [listed(self._checked(repo, response.content, what))]
        while link := response.links.get("next", {}).get("url"):
            response = self.call(repo, Call("GET", str(response.url.join(link)), what, headers={"Accept": oci.INDEX}))
            pages.append(listed(self._checked(repo, response.content, what)))
        return with_referrers(None, [d for page in pages for d in page]) or json.dumps({"manifests": []}).encode()

    def attach(self, subject: Digest, referrers: Sequence[Referrer]) -> Attached:
        """Every one of `referrers` (all about `subject`) listed: pushed by digest, then, without the API,
        added to the tag schema's index in one write."""
        found = self.list_referrers(subject)
        todo = [r for r in referrers if r.digest not in found.digests]
        for r in todo:
            for blob in (r.config, *r.layers):
                self.upload_blob(subject.path, blob.digest, blob.data)
            self.put_manifest(subject.context.digest(r.digest), r.manifest, oci.MANIFEST)
        written = None if found.api or not todo else with_referrers(found.index, [r.descriptor() for r in todo])
        if written is not None:
            self.put_manifest(subject.context.tag(referrers_tag(subject.digest)), written, oci.INDEX)
        return Attached(tuple(r.digest for r in todo))

    def missing_referrers(self, subject: Digest, referrers: Sequence[Referrer]) -> list[Referrer]:
        """Those of `referrers` the registry does not list about `subject`, or whose manifest it lacks."""
        found = self.list_referrers(subject).digests
        return [r for r in referrers
                if r.digest not in found or self.head_manifest(subject.context.digest(r.digest), expect=r.digest) != r.digest]

    def _checked(self, repo: str, index: bytes, what: str) -> bytes:
        try:
            listed(index)
        except ValueError:
            raise RegistryError(self.host, repo, "GET", what, "does not hold an OCI image index of referrers; "
                                "remove that tag or publish elsewhere") from None
        return index
