"""Attestations, signatures, --result and `publisher verify`, against a real engine and registry.

Checked with the tools users run (tests/verifiers.py): cosign verifies the signatures, docker buildx
imagetools reads the attestations, crane and skopeo what the registry holds; blobs are also read over
plain HTTP. Neither publisher's signing nor its registry client is trusted here. cosign does not check
a signature's docker-reference (the repository it names): the last test shows it, and keeps the
verifier written from cosign's spec (tests.test_cosign.verify) for that check only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.request

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from publisher.image.cosign import signature_tag
from publisher.image.slsa import BUILD_TYPE
from tests.test_cosign import new_key, public, verify as cosign_verify
from tests.test_publish import publish, reduced_matrix, skopeo, tags_in
from tests.verifiers import Verifiers

pytestmark = pytest.mark.docker
ONLY = ["--only", "distroless", "--only", "alpine3.20"]
SPDX = "https://spdx.dev/Document"
SLSA, SIGN = "https://slsa.dev/provenance/v1", "https://sigstore.dev/cosign/sign/v1"


def write_key(path, key) -> str:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


def raw(host: str, path: str) -> bytes:
    """A blob or manifest over plain HTTP, as any client reads it."""
    accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request) as response:
        return response.read()


def test_attested_signed_verified_and_rerun_uploads_nothing(cli, tmp_path, engine, registry, crane_registry, mirror, cache):
    """Into distribution and, beside it, go-containerregistry's registry (crane registry serve)."""
    key, other = new_key(), new_key()
    key_file = write_key(tmp_path / "key.pem", key)
    (tmp_path / "key.pub").write_bytes(public(key))
    (tmp_path / "other.pub").write_bytes(public(other))
    matrix = reduced_matrix(tmp_path, cli)
    repo, name = f"{registry.host}/attest/uv", "attest/uv"
    other_registry = f"{crane_registry.host}/attest/uv"
    extra = [*ONLY, "--sign-key", key_file, "--result", str(tmp_path / "result.json")]

    run = publish(cli, matrix, mirror, cache, repo, other_registry, extra=extra)
    assert run.code == 0, run.err
    assert "attest: 4 in" in run.out and "signatures pushed" in run.out and "bundles pushed" in run.out
    assert "PRIVATE KEY" not in run.out + run.err

    index_bytes = raw(registry.host, f"{name}/manifests/0.5.31-alpine3.20")
    index = json.loads(index_bytes)
    platforms, attestations = index["manifests"][:2], index["manifests"][2:]
    assert [m["platform"]["architecture"] for m in platforms] == ["amd64", "arm64"]
    assert [m["platform"] for m in attestations] == [{"architecture": "unknown", "os": "unknown"}] * 2
    assert [m["annotations"] for m in attestations] == [
        {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": m["digest"]} for m in platforms]
    attestation_statements = []
    for image, entry in zip(platforms, attestations):
        manifest = json.loads(raw(registry.host, f"{name}/manifests/{entry['digest']}"))
        kinds = [layer["annotations"]["in-toto.io/predicate-type"] for layer in manifest["layers"]]
        assert kinds == [SPDX, "https://slsa.dev/provenance/v1"]
        assert {layer["mediaType"] for layer in manifest["layers"]} == {"application/vnd.in-toto+json"}
        spdx, provenance = (json.loads(raw(registry.host, f"{name}/blobs/{layer['digest']}")) for layer in manifest["layers"])
        attestation_statements.append({"sbom": spdx, "provenance": provenance})
        for statement in (spdx, provenance):
            assert statement["subject"][0]["digest"] == {"sha256": image["digest"].split(":")[1]}
        purls = {ref["referenceLocator"] for p in spdx["predicate"]["packages"] for ref in p["externalRefs"]}
        arch = image["platform"]["architecture"]
        assert "pkg:apk/alpine/busybox@1.36.1-r29?arch=noarch&distro=alpine-3.20" in purls
        assert "pkg:apk/alpine/musl@1.2.5-r0?arch=noarch&distro=alpine-3.20" in purls
        uv = [p for p in spdx["predicate"]["packages"] if p["name"] == "uv"]
        assert uv[0]["versionInfo"] == "0.5.31" and uv[0]["packageFileName"] == "/usr/local/bin/uv"
        parameters = provenance["predicate"]["buildDefinition"]["externalParameters"]
        assert (parameters["version"], parameters["variant"], parameters["platform"]) == ("0.5.31", "alpine3.20", f"linux/{arch}")

    # What users run. cosign verifies the index and each platform manifest with the key, refuses another key:
    # with its defaults it reads the Sigstore bundles (their claims' type is the bundle statement's predicate type),
    # with --new-bundle-format=false the .sig signatures, which containers' sigstoreSigned policy reads.
    tools = Verifiers(tmp_path / "docker-config")
    index_digest = "sha256:" + hashlib.sha256(index_bytes).hexdigest()
    for digest in [index_digest] + [m["digest"] for m in platforms]:
        kinds = [SIGN] if digest == index_digest else [SIGN, SPDX, SLSA]
        for where in (repo, other_registry):
            claims = tools.cosign_claims(tmp_path / "key.pub", f"{where}@{digest}")
            assert sorted(c["critical"]["type"] for c in claims) == sorted(kinds)
            assert {c["critical"]["image"]["docker-manifest-digest"] for c in claims} == {digest}
            refused = tools.cosign_verify(tmp_path / "other.pub", f"{where}@{digest}")
            assert refused.returncode != 0, refused.stdout
            listed = tools.oras_referrers(f"{where}@{digest}")
            assert sorted(r["annotations"]["dev.sigstore.bundle.predicateType"] for r in listed) == sorted(kinds)
            assert {r["annotations"]["org.opencontainers.image.created"] for r in listed} == {index["annotations"]["org.opencontainers.image.created"]}
        legacy = tools.run("cosign", "verify", "--key", str(tmp_path / "key.pub"), "--insecure-ignore-tlog=true",
                           "--allow-http-registry", "--new-bundle-format=false", f"{repo}@{digest}")
        assert legacy.returncode == 0, legacy.stderr
        claims = json.loads(legacy.stdout)
        assert [(c["critical"]["type"], c["critical"]["image"]["docker-manifest-digest"]) for c in claims] == [
            ("cosign container image signature", digest)]
        assert claims[0]["critical"]["identity"]["docker-reference"] == repo
    # The SBOM and the provenance of each platform manifest are signed statements: cosign verify-attestation.
    for image, where in ((image, where) for image in platforms for where in (repo, other_registry)):
        for kind, predicate in (("slsaprovenance1", SLSA), ("spdxjson", SPDX)):
            good = tools.cosign_verify_attestation(tmp_path / "key.pub", f"{where}@{image['digest']}", kind)
            assert good.returncode == 0, good.stderr
            statements = [json.loads(base64.b64decode(json.loads(line)["payload"])) for line in good.stdout.splitlines()]
            assert [(s["predicateType"], s["subject"][0]["digest"]["sha256"]) for s in statements] == [
                (predicate, image["digest"].split(":")[1])]
            refused = tools.cosign_verify_attestation(tmp_path / "other.pub", f"{where}@{image['digest']}", kind)
            assert refused.returncode != 0, refused.stdout
    # docker buildx imagetools reads both statements of every platform, as written in the registry.
    sboms = tools.imagetools(f"{repo}:0.5.31-alpine3.20", "SBOM")
    provenances = tools.imagetools(f"{repo}:0.5.31-alpine3.20", "Provenance")
    assert set(sboms) == set(provenances) == {"linux/amd64", "linux/arm64"}
    for image, statements in zip(platforms, attestation_statements):
        platform = f"linux/{image['platform']['architecture']}"
        assert sboms[platform]["SPDX"] == statements["sbom"]["predicate"]
        assert sboms[platform]["SPDX"]["documentNamespace"].startswith("https://pypi.org/project/image-family-publisher/spdx/")
        assert provenances[platform]["SLSA"] == statements["provenance"]["predicate"]
        assert provenances[platform]["SLSA"]["buildDefinition"]["buildType"] == BUILD_TYPE
    # crane beside skopeo: the same index bytes, digests and tags.
    assert tools.crane("manifest", f"{repo}:0.5.31-alpine3.20").encode() == index_bytes
    assert tools.crane("digest", f"{repo}:0.5.31-alpine3.20").strip() == index_digest
    assert tools.crane_tags(repo) == tags_in(repo) >= {"alpine", "latest", signature_tag(index_digest)}
    # The second registry holds the very same bytes, tags and signatures.
    assert tools.crane("manifest", f"{other_registry}:0.5.31-alpine3.20").encode() == index_bytes
    assert tools.crane_tags(other_registry) == tags_in(other_registry) == tags_in(repo)
    assert tools.cosign_verify(tmp_path / "key.pub", f"{other_registry}@{index_digest}").returncode == 0
    assert tools.cosign_verify(tmp_path / "other.pub", f"{other_registry}@{index_digest}").returncode != 0

    result = json.loads((tmp_path / "result.json").read_text())["repositories"][repo]
    alpine = result["alpine"]
    assert alpine["digest"] == json.loads(skopeo("inspect", f"docker://{repo}:alpine"))["Digest"]
    assert alpine["digest"] == tools.crane("digest", f"{repo}:alpine").strip()
    keys = ("os", "architecture", "variant")
    assert alpine["platforms"] == {"/".join(m["platform"][k] for k in keys if k in m["platform"]): m["digest"] for m in platforms}
    assert alpine["moved_from"] is None and alpine["status"] == "new"

    again = publish(cli, matrix, mirror, cache, repo, other_registry, extra=extra)
    assert again.code == 0, again.err
    last = again.out.rstrip().splitlines()[-1]
    assert last.startswith("0.5.31: nothing to do: no blob uploaded, no tag moved;"), last
    assert "signatures pushed" not in last and "bundles pushed" not in last and "build: " not in again.out

    check = ["verify", "--version", "0.5.31", "--matrix", matrix, "--repository", repo, "--repository", other_registry, *ONLY]
    good = cli(*check, "--key", str(tmp_path / "key.pub"))
    assert good.code == 0 and good.out.strip().endswith("of 2 repositories hold it, attested and signed"), good.out + good.err
    wrong_key = cli(*check, "--key", str(tmp_path / "other.pub"))
    assert wrong_key.code == 1 and "no signature verifying with the given key" in wrong_key.out
    assert "no Sigstore bundle of its SBOM verifying with the given key" in wrong_key.out

    # A referrers list lost (its tag deleted): verify names what is no longer found; a rerun lists them again, only that.
    lost = platforms[0]["digest"]
    listing = hashlib.sha256(raw(registry.host, f"{name}/manifests/{lost.replace(':', '-')}")).hexdigest()
    urllib.request.urlopen(urllib.request.Request(f"http://{registry.host}/v2/{name}/manifests/sha256:{listing}", method="DELETE"))
    missing = cli(*check, "--key", str(tmp_path / "key.pub"))
    assert missing.code == 1, missing.out
    for kind in ("its signature", "its SBOM", "its provenance"):
        assert f"{lost}: no Sigstore bundle of {kind} verifying with the given key" in missing.out
    repaired = publish(cli, matrix, mirror, cache, repo, other_registry, extra=extra)
    assert repaired.code == 0, repaired.err
    last = repaired.out.rstrip().splitlines()[-1]
    assert "3 bundles pushed" in last and "blobs uploaded" not in last and "signatures pushed" not in last, last
    assert cli(*check, "--key", str(tmp_path / "key.pub")).code == 0

    # Someone moves one tag to other content with another client: verify names that tag, only it.
    skopeo("copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{mirror}/library/alpine:3.20", f"docker://{repo}:alpine")
    moved = cli(*check, "--key", str(tmp_path / "key.pub"))
    assert moved.code == 1
    named = {line.split(": ")[0] for line in moved.out.splitlines()[:-1]}
    assert named == {f"{repo}:alpine"}, moved.out
    assert "made from release unknown" in moved.out and "no attestation manifest" in moved.out

    # The publish puts it back, and --result says what it moved from.
    back = publish(cli, matrix, mirror, cache, repo, other_registry, extra=extra)
    assert back.code == 0, back.err
    assert "1 tag moved" in back.out and "blobs uploaded" not in back.out.splitlines()[-1]
    result = json.loads((tmp_path / "result.json").read_text())["repositories"][repo]
    base = json.loads(skopeo("inspect", f"docker://{mirror}/library/alpine:3.20"))["Digest"]
    assert result["alpine"]["moved_from"] == base and result["alpine"]["status"] == "moves"
    assert cli(*check, "--key", str(tmp_path / "key.pub")).code == 0


def test_bad_sign_key_is_refused_before_anything_is_built(cli, project, tmp_path, registry):
    bad = tmp_path / "key.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n")
    repo = f"{registry.host}/badkey/uv"
    run = cli("publish", "--version", "0.5.31", "--matrix", str(project / "matrix.yaml"), "--repository", repo,
              "--sign-key", str(bad))
    assert run.code == 2 and run.out == ""  # not even the plan: nothing read, nothing built
    assert len(run.err.splitlines()) == 1 and run.err.startswith(f"{bad}: holds PUBLIC KEY, not an EC private key;")
    with urllib.request.urlopen(f"http://{registry.host}/v2/_catalog") as response:
        assert "badkey/uv" not in json.load(response)["repositories"]


def test_a_sig_tag_keeps_the_signatures_already_there_and_a_rerun_pushes_nothing(registry, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from publisher.release.events import Sent, SignatureSent
    from publisher.remote.registry import Registry
    from publisher.steps.sign import missing, push_signatures, signatures
    from publisher.holdings.repository import Repository

    theirs, ours = new_key(), new_key()
    digest = "sha256:" + "ab" * 32  # a signature may name any digest; the registry does not check
    with Registry(registry.host) as client, ThreadPoolExecutor(4) as pool:
        repo = Repository(f"{registry.host}/merge/uv", client)
        sent = lambda how: [SignatureSent(repo.ref, digest, how)]
        assert push_signatures(signatures(theirs, [repo], [digest]), pool) == sent(Sent.PUSHED)
        mine = signatures(ours, [repo], [digest])
        assert missing(mine, pool) == mine
        assert push_signatures(mine, pool) == sent(Sent.PUSHED)
        assert push_signatures(mine, pool) == sent(Sent.THERE)
        assert missing(mine, pool) == []
    tools = Verifiers(tmp_path / "docker-config")
    for key, name in ((theirs, "theirs.pub"), (ours, "ours.pub")):  # theirs still there, ours added
        (tmp_path / name).write_bytes(public(key))
        done = tools.cosign_verify(tmp_path / name, f"{repo.ref}@{digest}")
        assert done.returncode == 0 and len(json.loads(done.stdout)) == 1, done.stderr  # the one of this key

    # What cosign does not check: the payload's docker-reference. The .sig copied to another repository
    # verifies there with cosign; the identity check (publisher verify's, a containers policy's
    # matchRepository, and tests.test_cosign.verify, written from cosign's spec) refuses it.
    tag = f"{digest.replace(':', '-')}.sig"
    elsewhere = f"{registry.host}/elsewhere/uv"
    tools.crane("copy", f"{repo.ref}:{tag}", f"{elsewhere}:{tag}")
    assert tools.cosign_verify(tmp_path / "ours.pub", f"{elsewhere}@{digest}").returncode == 0
    sig = raw(registry.host, f"elsewhere/uv/manifests/{tag}")
    blobs = {layer["digest"]: raw(registry.host, f"elsewhere/uv/blobs/{layer['digest']}") for layer in json.loads(sig)["layers"]}
    assert cosign_verify(sig, blobs, public(ours), repo.ref, digest) == 1
    with pytest.raises(InvalidSignature):
        cosign_verify(sig, blobs, public(ours), elsewhere, digest)
