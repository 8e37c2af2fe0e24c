"""Sign every index and every platform manifest in it, in every repository, as cosign stores it, in both formats.

cosign's simple signing (what containers' `sigstoreSigned` policy reads): a signature lives in the
repository it vouches for, under the tag `sha256-<hex>.sig`, and names that repository in its payload.
A `.sig` tag holding other signatures (another key, cosign's own) keeps them: ours is added next to
them, as `cosign sign` does.

cosign 3's Sigstore bundles (what `cosign verify` and `verify-attestation` read first): a referrer of
each index and platform manifest signing it, and one of each platform manifest per statement about
it (its SBOM, its provenance), as `image/bundle` makes them; listed by the registry's referrers API or
the tag schema (`remote/referrers`). Both are deterministic, so a rerun computes the very signatures
already there and pushes nothing.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.bundle import PREDICATE, attested, bundles
from publisher.image.cosign import (SIGNATURE_ANNOTATION, SignatureEntry, payload, sign, signature_manifest,
                                    signature_tag, subjects)
from publisher.image.referrers import Referrer
from publisher.release.events import BundleSent, Sent, SignatureSent
from publisher.holdings.repository import Repository


@dataclass(frozen=True)
class Signed:
    """In `repo`, the `.sig` tag of `digest` must carry `entry`."""

    repo: Repository
    digest: str
    entry: SignatureEntry


def signatures(key, repositories: list[Repository], digests: list[str]) -> list[Signed]:
    """One signature per repository and digest (each repository names itself in the payload)."""
    out = []
    for repo in repositories:
        for digest in digests:
            data = payload(repo.ref, digest)
            out.append(Signed(repo, digest, SignatureEntry(data, sign(key, data))))
    return out


def push_signatures(signed: list[Signed], pool: Executor) -> list[SignatureSent]:
    return list(pool.map(lambda s: SignatureSent(s.repo.ref, s.digest, _push(s)), signed))


def missing(signed: list[Signed], pool: Executor) -> list[Signed]:
    """The signatures a repository does not hold."""
    held = list(pool.map(lambda s: _holds(s, _layers(s)), signed))
    return [s for s, ok in zip(signed, held) if not ok]


def _push(s: Signed) -> Sent:
    layers = _layers(s)
    if _holds(s, layers):
        return Sent.THERE
    registry, path = s.repo.registry, s.repo.path
    others = [SignatureEntry(registry.get_blob(path, layer["digest"]), layer["annotations"][SIGNATURE_ANNOTATION])
              for layer in layers if SIGNATURE_ANNOTATION in (layer.get("annotations") or {})]
    made = signature_manifest([*others, s.entry])
    for blob in (made.config, *made.layers):
        registry.upload_blob(path, blob.digest, blob.data, ask_first=bool(layers))  # another key's may share it
    registry.put_manifest(s.repo.name.tag(signature_tag(s.digest)), made.manifest, oci.MANIFEST)
    return Sent.PUSHED


def _layers(s: Signed) -> list[dict]:
    found = s.repo.registry.get_manifest(s.repo.name.tag(signature_tag(s.digest)))
    return oci.layers_of(found[1] if found else None)


def _holds(s: Signed, layers: list[dict]) -> bool:
    return any(layer.get("digest") == oci.digest(s.entry.payload)
               and (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION) == s.entry.signature
               for layer in layers)


@dataclass(frozen=True)
class Bundled:
    """In `repo`, the referrers of `subject` must list each of `referrers`."""

    repo: Repository
    subject: str
    referrers: tuple[Referrer, ...]


def bundled(key, index: bytes, repositories: list[Repository], statements: dict[str, list[bytes]]) -> list[Bundled]:
    """Every bundle of one index, in each of `repositories` (the same bytes in each: a bundle names no
    repository). `statements`: attestation manifest digest → its statements, where known; the others
    are read from the first repository, which holds them (a stage pushed them)."""
    known = [data for digest in attested(index) for data in statements.get(digest) or _statements(repositories[0], digest)]
    by_subject: dict[str, list[Referrer]] = {}
    for made in bundles(key, index, known):
        by_subject.setdefault(made.subject, []).append(made)
    return [Bundled(repo, subject, tuple(made)) for repo in repositories for subject, made in by_subject.items()]


def _statements(repo: Repository, digest: str) -> list[bytes]:
    return [repo.registry.get_blob(repo.path, layer["digest"]) for layer in oci.layers_of(repo.manifest(digest))]


@dataclass(frozen=True)
class Held:
    """An index a release's tags hold already, and the repositories holding it (the targets' order)."""

    index: bytes
    repositories: tuple[Repository, ...]


def sign_held(key, held: list[Held], pool: Executor) -> list[SignatureSent | BundleSent]:
    """A release otherwise up to date (the indexes its tags hold): what is missing of its signatures and
    bundles (a key given for the first time, bundles new to it) pushed, nothing else. Each index's bundles
    are made once, from the statements of the first repository holding it, and listed in each."""
    sent = push_signatures([s for h in held for s in signatures(key, list(h.repositories), subjects(h.index))], pool)
    made = pool.map(lambda h: bundled(key, h.index, list(h.repositories), {}), held)
    return sent + push_bundles([b for found in made for b in found], pool)


def push_bundles(made: list[Bundled], pool: Executor) -> list[BundleSent]:
    """Each bundle listed among its manifest's referrers: PUSHED when it was not, THERE when it was."""
    out = []
    for b, attached in zip(made, pool.map(lambda b: b.repo.registry.attach(b.repo.name.digest(b.subject), b.referrers), made)):
        out += [BundleSent(b.repo.ref, b.subject, Sent.PUSHED if r.digest in attached.pushed else Sent.THERE)
                for r in b.referrers]
    return out


def missing_bundles(made: list[Bundled], pool: Executor) -> list[str]:
    """What a registry does not list of the bundles, one line each."""
    found = pool.map(lambda b: b.repo.registry.missing_referrers(b.repo.name.digest(b.subject), b.referrers), made)
    return [f"{b.repo.ref}@{b.subject}: the Sigstore bundle {r.digest} ({r.annotations[PREDICATE]}) is not among its "
            "referrers, or its manifest is missing" for b, lost in zip(made, found) for r in lost]
