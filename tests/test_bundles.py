"""Sigstore bundles and OCI referrers: as values, then pushed to real registries and checked with cosign 3.1.1 and oras.

The values are checked against what cosign itself writes (the statement, the referrer's layout, the
key's hint: docs/supply-chain.md shows cosign's own referrer). What is pushed is verified by cosign
(`verify`, `verify-attestation`) and listed by oras, on docker-registry (no referrers API: the tag
schema) and on go-containerregistry's `crane registry serve` (no API either). No registry of ours
has the referrers API (both answer 404 to `GET /v2/NAME/referrers/DIGEST`, which the first test
below holds); the API path is the one a registry with it would take.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization

from publisher.image import oci
from publisher.image.attestation import attestation_manifest, statement
from publisher.image.bundle import (BUNDLE, SIGN_PREDICATE, bundle, bundle_referrer, bundle_verifies, bundles, key_hint,
                                    pae, sign_statement, signable)
from publisher.image.oci import Image
from publisher.image.platform import Platform, parse_platform
from publisher.image.reference import Name
from publisher.image.referrers import referrers_tag, with_referrers
from publisher.holdings.repository import Repository
from publisher.release.events import BundleSent, Sent, SignatureSent
from publisher.remote.errors import RegistryError
from publisher.remote.registry import Registry
from publisher.steps.sign import Held, bundled, missing_bundles, push_bundles, sign_held
from tests.test_cosign import new_key, public
from tests.verifiers import Verifiers

SPDX, SLSA = "https://spdx.dev/Document", "https://slsa.dev/provenance/v1"
CREATED = "2025-02-03T04:05:06Z"
DIGEST = "sha256:" + "9f" * 32


def tiny(platform: Platform = parse_platform("linux/amd64")) -> Image:
    config = {"architecture": platform.architecture, "os": platform.os, "rootfs": {"type": "layers", "diff_ids": []}}
    return Image(platform, oci.canonical(config), ())


def release(created: str | None = CREATED):
    """Two platform images, an SBOM and a provenance statement about each, and their index."""
    images = [tiny(parse_platform("linux/amd64")), tiny(parse_platform("linux/arm64"))]
    made = [attestation_manifest(i.digest, [(statement("pkg:docker/x", i.digest, SPDX, {"spdxVersion": "SPDX-2.3"}), SPDX),
                                            (statement("pkg:docker/x", i.digest, SLSA, {"buildDefinition": {}}), SLSA)])
            for i in images]
    annotations = {"org.opencontainers.image.created": created} if created else {}
    return images, made, oci.index(images, annotations, [a.index_entry() for a in made])


# ---- values ----

def test_the_sign_statement_is_cosigns():
    """cosign 3.1.1's own, decoded from the bundle `cosign sign --key` pushed (same fields, same values)."""
    cosigns = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"digest": {"sha256": "9f" * 32}, "annotations": {}}],
               "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}}
    assert json.loads(sign_statement(DIGEST)) == cosigns


def test_pae_is_dsse_s():
    """The DSSE specification's own example."""
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_a_bundle_names_its_key_by_hint_and_is_the_same_every_time():
    key = new_key()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    made = bundle(key, sign_statement(DIGEST))
    document = json.loads(made)
    assert document["mediaType"] == BUNDLE
    assert document["verificationMaterial"] == {"publicKey": {"hint": base64.b64encode(hashlib.sha256(der).digest()).decode()}}
    assert key_hint(key.public_key()) == document["verificationMaterial"]["publicKey"]["hint"]
    envelope = document["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(envelope["payload"]) == sign_statement(DIGEST)
    assert bundle(key, sign_statement(DIGEST)) == made  # RFC 6979: a rerun makes the same bytes


def test_the_referrer_is_laid_out_as_cosign_lays_it():
    subject = {"mediaType": oci.MANIFEST, "digest": DIGEST, "size": 423}
    made = bundle_referrer(subject, b'{"x":1}', SIGN_PREDICATE, CREATED)
    document = json.loads(made.manifest)
    assert document["artifactType"] == BUNDLE and document["mediaType"] == oci.MANIFEST
    assert document["config"] == {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "artifactType": BUNDLE,
                                  "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}
    assert made.config.data == b"{}"
    assert document["layers"] == [{"mediaType": BUNDLE, "digest": oci.digest(b'{"x":1}'), "size": 7}]
    assert document["subject"] == subject
    assert document["annotations"] == {"dev.sigstore.bundle.content": "dsse-envelope",
                                       "dev.sigstore.bundle.predicateType": SIGN_PREDICATE,
                                       "org.opencontainers.image.created": CREATED}
    assert made.descriptor() == {"mediaType": oci.MANIFEST, "digest": made.digest, "size": len(made.manifest),
                                 "artifactType": BUNDLE, "annotations": document["annotations"]}


def test_an_index_gets_a_signature_of_itself_and_each_image_and_each_statement_signed():
    images, made, index = release()
    statements = [layer.data for a in made for layer in a.layers]
    found = bundles(new_key(), index, statements)
    kinds = Counter((r.subject, r.annotations["dev.sigstore.bundle.predicateType"]) for r in found)
    platforms = [i.digest for i in images]
    assert kinds == Counter({(oci.digest(index), SIGN_PREDICATE): 1, **{(d, k): 1 for d in platforms for k in (SIGN_PREDICATE, SPDX, SLSA)}})
    assert {r.annotations["org.opencontainers.image.created"] for r in found} == {CREATED}  # the release's, not now
    assert [m["digest"] for m in signable(index).manifests] == [oci.digest(index), *platforms]  # not the attestation manifests
    assert signable(release(created=None)[2]).created == "1970-01-01T00:00:00Z"


def test_publisher_verify_checks_key_statement_type_and_subject():
    key, other = new_key(), new_key()
    signed = bundle(key, sign_statement(DIGEST))
    assert bundle_verifies(key.public_key(), signed, DIGEST, SIGN_PREDICATE)
    assert not bundle_verifies(other.public_key(), signed, DIGEST, SIGN_PREDICATE)
    assert not bundle_verifies(key.public_key(), signed, "sha256:" + "11" * 32, SIGN_PREDICATE)
    assert not bundle_verifies(key.public_key(), signed, DIGEST, SPDX)
    document = json.loads(signed)
    forged = sign_statement("sha256:" + "11" * 32)
    document["dsseEnvelope"]["payload"] = base64.b64encode(forged).decode()
    assert not bundle_verifies(key.public_key(), json.dumps(document).encode(), "sha256:" + "11" * 32, SIGN_PREDICATE)
    assert not bundle_verifies(key.public_key(), b"not json", DIGEST, SIGN_PREDICATE)


def test_the_tag_schema_index_keeps_what_others_listed():
    theirs = {"mediaType": oci.MANIFEST, "digest": "sha256:" + "aa" * 32, "size": 10, "artifactType": "application/vnd.example+json"}
    ours = {"mediaType": oci.MANIFEST, "digest": "sha256:" + "bb" * 32, "size": 20, "artifactType": BUNDLE}
    first = with_referrers(None, [theirs])
    merged = with_referrers(first, [ours, theirs])
    assert json.loads(merged)["manifests"] == [theirs, ours]
    assert json.loads(merged)["mediaType"] == oci.INDEX
    assert with_referrers(merged, [ours]) is None  # all listed: nothing to write
    with pytest.raises(ValueError):
        with_referrers(tiny().manifest, [ours])
    assert referrers_tag(DIGEST) == "sha256-" + "9f" * 32


# ---- pushed, and verified with cosign ----

def push_release(client: Registry, path: str, created: str | None = CREATED):
    images, made, index = release(created)
    name = Name(client.host, path)
    for blob in [i.config for i in images]:
        client.upload_blob(path, oci.digest(blob), blob)
    for a in made:
        for blob in (a.config, *a.layers):
            client.upload_blob(path, blob.digest, blob.data)
    for body in [i.manifest for i in images] + [a.manifest for a in made]:
        client.put_manifest(name.digest(oci.digest(body)), body, oci.MANIFEST)
    client.put_manifest(name.tag("latest"), index, oci.INDEX)
    return images, index


def sent(events) -> Counter:
    """What became of each bundle: pushed, or listed already."""
    assert all(isinstance(e, BundleSent) for e in events)
    return Counter(e.sent for e in events)


def key_files(tmp_path, *keys):
    for n, key in enumerate(keys):
        (tmp_path / f"key{n}.pub").write_bytes(public(key))
    return [tmp_path / f"key{n}.pub" for n in range(len(keys))]


@pytest.mark.parametrize("server", ["registry", "crane_registry"])
def test_cosign_verifies_the_bundles_alone_and_a_rerun_writes_nothing(server, request, tmp_path):
    host = request.getfixturevalue(server).host
    key, other = new_key(), new_key()
    mine, theirs = key_files(tmp_path, key, other)
    tools = Verifiers(tmp_path / "docker-config")
    with Registry(host) as client, ThreadPoolExecutor(4) as pool:
        images, index = push_release(client, "bundles/tool")
        repo = Repository(f"{host}/bundles/tool", client)
        assert not client.list_referrers(repo.name.digest(oci.digest(index))).api  # neither registry has the API
        made = bundled(key, index, [repo], {})  # the statements read back from the registry
        assert sent(push_bundles(made, pool)) == Counter({Sent.PUSHED: 7})
        assert missing_bundles(made, pool) == []
        tags = {d: client.head_manifest(repo.name.tag(referrers_tag(d))) for d in [oci.digest(index), *(i.digest for i in images)]}
        assert sent(push_bundles(made, pool)) == Counter({Sent.THERE: 7})  # a rerun: all listed already, no tag written
        assert {d: client.head_manifest(repo.name.tag(referrers_tag(d))) for d in tags} == tags

    # No `.sig` tag exists here: what cosign verifies is the bundle.
    assert not [t for t in tools.crane_tags(repo.ref) if t.endswith(".sig")]
    for digest in tags:
        claims = tools.cosign_claims(mine, f"{repo.ref}@{digest}")
        assert {c["critical"]["type"] for c in claims} >= {SIGN_PREDICATE}
        assert {c["critical"]["image"]["docker-manifest-digest"] for c in claims} == {digest}
        refused = tools.cosign_verify(theirs, f"{repo.ref}@{digest}")
        assert refused.returncode != 0, refused.stdout
    for image in images:
        reference = f"{repo.ref}@{image.digest}"
        for kind, predicate in (("slsaprovenance1", SLSA), ("spdxjson", SPDX)):
            good = tools.cosign_verify_attestation(mine, reference, kind)
            assert good.returncode == 0, good.stderr
            payloads = [json.loads(base64.b64decode(json.loads(line)["payload"])) for line in good.stdout.splitlines()]
            assert [p["predicateType"] for p in payloads] == [predicate]
            assert payloads[0]["subject"][0]["digest"] == {"sha256": image.digest.split(":")[1]}
            assert tools.cosign_verify_attestation(theirs, reference, kind).returncode != 0
        listed = tools.oras_referrers(reference)
        assert sorted(r["annotations"]["dev.sigstore.bundle.predicateType"] for r in listed) == sorted([SIGN_PREDICATE, SPDX, SLSA])
        assert {r["artifactType"] for r in listed} == {BUNDLE}


def test_others_referrers_stay_and_ours_join_them(registry, tmp_path):
    """A second signer (cosign itself, its own key) and another tool's artifact (oras attach) were there first."""
    key = new_key()
    (mine,) = key_files(tmp_path, key)
    tools = Verifiers(tmp_path / "docker-config")
    with Registry(registry.host) as client:
        images, index = push_release(client, "others/tool")
    repo_ref, digest = f"{registry.host}/others/tool", images[0].digest
    reference = f"{repo_ref}@{digest}"
    env = {"COSIGN_PASSWORD": ""}
    done = tools.run_in(tmp_path, env, "cosign", "generate-key-pair")
    assert done.returncode == 0, done.stderr
    assert tools.run_in(tmp_path, env, "cosign", "signing-config", "create", "--out", "sc.json").returncode == 0
    signed = tools.run_in(tmp_path, env, "cosign", "sign", "--yes", "--key", "cosign.key", "--signing-config", "sc.json",
                          "--allow-http-registry", reference)
    assert signed.returncode == 0, signed.stderr
    (tmp_path / "note.json").write_text("{}")
    attached = tools.run_in(tmp_path, {}, "oras", "attach", "--plain-http", "--artifact-type", "application/vnd.example.note+json",
                            reference, "note.json")
    assert attached.returncode == 0, attached.stderr
    before = {r["digest"] for r in tools.oras_referrers(reference)}
    assert len(before) == 2

    with Registry(registry.host) as client, ThreadPoolExecutor(4) as pool:
        push_bundles(bundled(key, index, [Repository(repo_ref, client)], {}), pool)
    after = tools.oras_referrers(reference)
    assert before < {r["digest"] for r in after} and len(after) == 5  # theirs two, our signature, SBOM, provenance
    assert tools.cosign_verify(tmp_path / "cosign.pub", reference).returncode == 0  # the other signer's still verifies
    assert SIGN_PREDICATE in {c["critical"]["type"] for c in tools.cosign_claims(mine, reference)}


def test_a_referrers_tag_holding_something_else_is_refused_in_one_line(registry):
    with Registry(registry.host) as client:
        images, index = push_release(client, "clash/tool")
        name = Name(registry.host, "clash/tool")
        client.put_manifest(name.tag(referrers_tag(oci.digest(index))), tiny().manifest, oci.MANIFEST)
        with pytest.raises(RegistryError, match="does not hold an OCI image index of referrers") as raised:
            client.attach(name.digest(oci.digest(index)), bundles(new_key(), index, [])[:1])
    assert "\n" not in str(raised.value)


def test_the_read_back_names_a_lost_list_and_a_rerun_lists_it_again(registry):
    import urllib.request

    with Registry(registry.host) as client, ThreadPoolExecutor(4) as pool:
        images, index = push_release(client, "lost/tool")
        repo = Repository(f"{registry.host}/lost/tool", client)
        made = bundled(new_key(), index, [repo], {})
        assert sent(push_bundles(made, pool)) == Counter({Sent.PUSHED: 7})
        subject = images[1].digest
        listing = client.head_manifest(repo.name.tag(referrers_tag(subject)))
        urllib.request.urlopen(urllib.request.Request(f"{registry.url}/v2/lost/tool/manifests/{listing}", method="DELETE"))
        lost = missing_bundles(made, pool)
        assert len(lost) == 3 and all(line.startswith(f"{repo.ref}@{subject}: the Sigstore bundle sha256:") for line in lost)
        assert {line.split("(")[1].split(")")[0] for line in lost} == {SIGN_PREDICATE, SPDX, SLSA}
        assert sent(push_bundles(made, pool)) == Counter({Sent.PUSHED: 3, Sent.THERE: 4})  # the lost list's three again
        assert missing_bundles(made, pool) == []


def test_bundles_are_attached_under_token_auth_with_push_alone(token_registry):
    """A `pusher` (pull and push, no delete) lists and attaches: the referrers call needs pull, the tag write push."""
    from publisher.remote.credentials import Credentials

    with Registry(token_registry.host, Credentials("pusher", token_registry.users["pusher"])) as client, \
            ThreadPoolExecutor(4) as pool:
        images, index = push_release(client, "tokens/tool")
        repo = Repository(f"{token_registry.host}/tokens/tool", client)
        made = bundled(new_key(), index, [repo], {})
        assert sent(push_bundles(made, pool)) == Counter({Sent.PUSHED: 7}) and missing_bundles(made, pool) == []


def test_a_held_index_is_bundled_once_from_the_first_repository_holding_it(registry):
    """A signed rerun to two repositories: the statements are read from the first, the same bundles listed in both."""
    key, paths = new_key(), ["held/first", "held/second"]
    with Registry(registry.host) as client, ThreadPoolExecutor(4) as pool:
        for path in paths:
            images, index = push_release(client, path)
        held = [Held(index, tuple(Repository(f"{registry.host}/{path}", client) for path in paths))]
        first = sign_held(key, held, pool)
        assert Counter((type(e), e.sent) for e in first) == {(SignatureSent, Sent.PUSHED): 6, (BundleSent, Sent.PUSHED): 14}
        assert {e.repository for e in first} == {f"{registry.host}/{path}" for path in paths}
        assert {e.sent for e in sign_held(key, held, pool)} == {Sent.THERE}  # a rerun: nothing pushed
    log = registry.log_path.read_text(errors="replace")
    # push_release and the signatures send blobs without a GET: each GET of a blob here is a statement read
    assert [log.count(f'"GET /v2/{path}/blobs/') for path in paths] == [8, 0]  # 2 images x 2 statements, each run
