"""The supply chain's pure parts as publish uses them: attestation manifests, the index, the
--result document, the dry-run's promise. No Docker."""

from __future__ import annotations

import json
from dataclasses import replace

from publisher.image import oci
from publisher.image.platform import parse_platform
from publisher.image.attest import Facts, attest, stable_env
from publisher.release.decisions import HELD, MOVES, NEW, Current, Decision
from publisher.release.result import Published, document, platforms_of
from publisher.release.supply import supply_chain
from tests.test_slsa import CI, inputs as provenance_inputs
from tests.test_sbom import alpine_inputs

SUBJECT = "sha256:" + "5e" * 32


def facts(**sbom_changes) -> Facts:
    return Facts(replace(alpine_inputs(), **{"subject_digest": SUBJECT, **sbom_changes}), provenance_inputs())


def test_one_attestation_manifest_per_image_sbom_then_provenance_and_deterministic():
    made = attest(facts())
    assert made.subject_digest == SUBJECT and attest(facts()).manifest == made.manifest
    kinds = [layer.annotations["in-toto.io/predicate-type"] for layer in made.layers]
    assert kinds == ["https://spdx.dev/Document", "https://slsa.dev/provenance/v1"]
    for layer in made.layers:
        statement = json.loads(layer.data)
        assert statement["subject"][0]["digest"] == {"sha256": "5e" * 32}
        assert statement["subject"][0]["name"].startswith("pkg:docker/")
    assert attest(facts(version="0.5.32")).digest != made.digest  # what it says is in its digest


def test_index_lists_attestations_after_every_platform_manifest():
    images = [oci.Image(parse_platform(p), b'{"a":1}', ()) for p in ("linux/amd64", "linux/arm64")]
    entries = [attest(facts(subject_digest=image.digest, platform=image.platform)).index_entry() for image in images]
    index = json.loads(oci.index(images, {"k": "v"}, entries))
    assert [m["platform"]["os"] for m in index["manifests"]] == ["linux", "linux", "unknown", "unknown"]
    assert [m["annotations"]["vnd.docker.reference.digest"] for m in index["manifests"][2:]] == [i.digest for i in images]
    assert platforms_of(oci.index(images, {}, entries)) == {images[0].platform: images[0].digest, images[1].platform: images[1].digest}


def test_provenance_keeps_the_builder_but_not_the_run_so_reruns_give_the_same_bytes():
    env = stable_env(CI)
    assert env == {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "astral-sh/uv-docker",
                   "RUNNER_ENVIRONMENT": "github-hosted"}
    first = attest(replace(facts(), provenance=provenance_inputs(env=env)))
    rerun = attest(replace(facts(), provenance=provenance_inputs(env=stable_env({**CI, "GITHUB_RUN_ATTEMPT": "3"}))))
    assert first.manifest == rerun.manifest
    provenance = json.loads(first.layers[1].data)["predicate"]
    assert provenance["runDetails"] == {"builder": {"id": "https://github.com/actions/runner/github-hosted",
                                                    "version": {"publisher": "0.1.0"}}}


def test_result_document_names_what_moved_and_what_was_held():
    from publisher.options import Arguments, compute_plan

    plan = compute_plan(Arguments(version="0.5.31", only=("alpine3.20",), repositories=("r.example/uv",)))
    made = Published("sha256:new", {parse_platform("linux/amd64"): "sha256:a"})
    published = {"r.example/uv": {tag: made for tag in plan.tags}}
    before = Current("sha256:old", "0.5.30")
    decisions = {("r.example/uv", t): Decision(NEW, Current()) for t in plan.tags}
    decisions["r.example/uv", "alpine"] = Decision(MOVES, before)
    decisions["r.example/uv", "0.5-alpine"] = Decision(HELD, Current("sha256:newer", "0.5.40"), "newer")
    tags = document(plan, published, decisions)["repositories"]["r.example/uv"]
    assert tags["alpine"] == {"digest": "sha256:new", "variant": "alpine3.20", "platforms": {"linux/amd64": "sha256:a"},
                              "status": "moves", "moved_from": "sha256:old", "meanwhile": None}
    assert tags["0.5.31-alpine"]["moved_from"] is None and tags["0.5.31-alpine"]["status"] == "new"
    assert tags["0.5-alpine"]["digest"] == "sha256:newer" and tags["0.5-alpine"]["status"] == "held"


def test_dry_run_says_what_the_release_carries(cli, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from tests.test_cosign import new_key

    key = tmp_path / "key.pem"
    key.write_bytes(new_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    args = ("publish", "--dry-run", "--offline", "--version", "0.5.31")
    plan = json.loads(cli(*args, "--output", "json").out)
    totals = plan["totals"]  # one attestation manifest per image; a signature per index and per image
    assert plan["supply_chain"] == supply_chain_expected(False, totals["images"])
    signed = json.loads(cli(*args, "--output", "json", "--sign-key", str(key)).out)
    signatures = totals["variants"] + totals["images"]
    assert signed["supply_chain"]["signed"] and signed["supply_chain"]["signatures_per_repository"] == signatures
    bundles = signatures + 2 * totals["images"]  # each signature, and each image's SBOM and provenance
    assert signed["supply_chain"]["bundles_per_repository"] == bundles
    table = cli(*args, "--sign-key", str(key)).out
    assert (f"Attestations: sbom (SPDX-2.3) and provenance (SLSA-1.0) on each of {totals['images']} images; "
            f"{signatures} signatures per repository (cosign, --sign-key), {bundles} Sigstore bundles (the signatures, "
            "and the SBOM and provenance of each image, signed).") in table


def supply_chain_expected(signed: bool, images: int) -> dict:
    return {"attestations": [
        {"kind": "sbom", "format": "SPDX-2.3", "predicate_type": "https://spdx.dev/Document"},
        {"kind": "provenance", "format": "SLSA-1.0", "predicate_type": "https://slsa.dev/provenance/v1"}],
        "attestation_manifests": images, "signed": signed, "signatures_per_repository": 0, "bundles_per_repository": 0}


def test_supply_chain_counts_follow_the_plan():
    from publisher.options import Arguments, compute_plan

    plan = compute_plan(Arguments(version="0.5.31", only=("alpine3.20",), platforms=("linux/arm64",)))
    assert supply_chain(plan, True)["signatures_per_repository"] == 2  # the index and its one image
