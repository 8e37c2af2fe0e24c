"""SLSA provenance v1, in-toto statements and BuildKit-style attestation manifests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from publisher.image import purl
from publisher.image.platform import parse_platform
from publisher.image.attestation import (AttestationManifest, attestation_manifest, canonical_json,
                                         statement)
from publisher.image.sbom import PREDICATE_TYPE as SPDX, build_sbom
from publisher.image.slsa import (BUILD_TYPE, PREDICATE_TYPE as SLSA, Dependency,
                                  ProvenanceInputs, SourceFile, build_provenance)
from tests.test_sbom import alpine_inputs

SUBJECT = "sha256:" + "5e" * 32
BASE = "sha256:" + "ba" * 32
COMMIT = "3f1c2b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
CI = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "astral-sh/uv-docker",
      "GITHUB_RUN_ID": "13245857000", "GITHUB_RUN_ATTEMPT": "2", "RUNNER_ENVIRONMENT": "github-hosted",
      "HOME": "/home/runner"}


def inputs(**changes) -> ProvenanceInputs:
    wheel = Dependency("https://files.pythonhosted.org/packages/uv-0.5.31-py3-none-musllinux_1_1_x86_64.whl",
                       "c3" * 32, "uv-0.5.31-py3-none-musllinux_1_1_x86_64.whl")
    base = Dependency(purl.docker("python:3.12-alpine", BASE, "linux/amd64"), BASE)
    made = ProvenanceInputs(
        publisher_version="0.1.0", version="0.5.31", variant="python3.12-alpine", platform=parse_platform("linux/amd64"),
        matrix=SourceFile("matrix.yaml", "d4" * 32), template=SourceFile("variants/Dockerfile.j2", "e5" * 32),
        repository="https://github.com/astral-sh/uv-docker", revision=COMMIT, base=base, payloads=(wheel,))
    return replace(made, **changes)


def test_predicate_shape_and_bare_hex_digests():
    predicate = build_provenance(inputs())
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE == "https://pypi.org/project/image-family-publisher/#build-type-v1"
    assert definition["externalParameters"] == {
        "version": "0.5.31", "variant": "python3.12-alpine", "platform": "linux/amd64",
        "files": {"matrix": {"path": "matrix.yaml", "digest": {"sha256": "d4" * 32}},
                  "template": {"path": "variants/Dockerfile.j2", "digest": {"sha256": "e5" * 32}}},
        "source": {"repository": "https://github.com/astral-sh/uv-docker", "revision": COMMIT}}
    assert definition["resolvedDependencies"] == [
        {"uri": "git+https://github.com/astral-sh/uv-docker", "digest": {"gitCommit": COMMIT}},
        {"uri": "pkg:docker/python@" + BASE + "?platform=linux%2Famd64", "digest": {"sha256": "ba" * 32}},
        {"uri": "https://files.pythonhosted.org/packages/uv-0.5.31-py3-none-musllinux_1_1_x86_64.whl",
         "digest": {"sha256": "c3" * 32}, "name": "uv-0.5.31-py3-none-musllinux_1_1_x86_64.whl"}]
    text = json.dumps(predicate)
    assert "sha256:" not in text.replace("python@sha256:", "")  # digests are bare hex


def test_local_run_names_publisher_as_builder_and_no_invocation():
    run = build_provenance(inputs())["runDetails"]
    assert run == {"builder": {"id": "https://pypi.org/project/image-family-publisher/0.1.0/",
                               "version": {"publisher": "0.1.0"}}}


def test_github_actions_run_is_the_invocation():
    run = build_provenance(inputs(env=CI))["runDetails"]
    assert run["builder"]["id"] == "https://github.com/actions/runner/github-hosted"
    assert run["metadata"] == {
        "invocationId": "https://github.com/astral-sh/uv-docker/actions/runs/13245857000/attempts/2"}
    assert "/home/runner" not in json.dumps(run)  # only the variables it names are read
    self_hosted = build_provenance(inputs(env={**CI, "RUNNER_ENVIRONMENT": "self-hosted"}))
    assert self_hosted["runDetails"]["builder"]["id"] == "https://github.com/actions/runner/self-hosted"


def test_without_source_or_template_those_keys_are_left_out():
    predicate = build_provenance(inputs(repository=None, revision=None, template=None, base=None))
    assert "source" not in predicate["buildDefinition"]["externalParameters"]
    assert list(predicate["buildDefinition"]["externalParameters"]["files"]) == ["matrix"]
    assert [d["digest"] for d in predicate["buildDefinition"]["resolvedDependencies"]] == [{"sha256": "c3" * 32}]


def test_bad_digests_and_revisions_are_refused():
    with pytest.raises(ValueError, match="sha256"):
        build_provenance(inputs(matrix=SourceFile("matrix.yaml", "nothex")))
    with pytest.raises(ValueError, match="commit"):
        build_provenance(inputs(revision="main"))


def test_same_inputs_same_bytes():
    assert canonical_json(build_provenance(inputs(env=CI))) == canonical_json(build_provenance(inputs(env=dict(CI))))
    one = statement("pkg:docker/astral-sh/uv@0.5.31", SUBJECT, SLSA, build_provenance(inputs()))
    assert one == statement("pkg:docker/astral-sh/uv@0.5.31", SUBJECT, SLSA, build_provenance(inputs()))


# in-toto statements and the attestation manifest


def test_statement_is_in_toto_v01_about_the_platform_manifest():
    sbom = build_sbom(alpine_inputs())
    data = statement("pkg:docker/ghcr.io/astral-sh/uv@0.5.31?platform=linux%2Famd64", SUBJECT, SPDX, sbom)
    doc = json.loads(data)
    assert doc["_type"] == "https://in-toto.io/Statement/v0.1"
    assert doc["subject"] == [{"name": "pkg:docker/ghcr.io/astral-sh/uv@0.5.31?platform=linux%2Famd64",
                               "digest": {"sha256": "5e" * 32}}]
    assert doc["predicateType"] == "https://spdx.dev/Document"
    assert doc["predicate"] == json.loads(sbom)
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(ValueError, match="sha256"):
        statement("x", "5e" * 32, SPDX, {})


def manifest() -> AttestationManifest:
    sbom = statement("_", SUBJECT, SPDX, build_sbom(alpine_inputs()))
    provenance = statement("_", SUBJECT, SLSA, build_provenance(inputs()))
    return attestation_manifest(SUBJECT, [(sbom, SPDX), (provenance, SLSA)])


def test_attestation_manifest_is_what_buildkit_writes():
    made = manifest()
    doc = json.loads(made.manifest)
    assert doc["schemaVersion"] == 2 and doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [(layer["mediaType"], layer["annotations"]) for layer in doc["layers"]] == [
        ("application/vnd.in-toto+json", {"in-toto.io/predicate-type": SPDX}),
        ("application/vnd.in-toto+json", {"in-toto.io/predicate-type": SLSA})]
    for layer, blob in zip(doc["layers"], made.layers):
        assert layer["digest"] == "sha256:" + hashlib.sha256(blob.data).hexdigest()
        assert layer["size"] == len(blob.data)
    config = json.loads(made.config.data)
    assert doc["config"] == {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": made.config.digest, "size": len(made.config.data)}
    assert config == {"architecture": "unknown", "os": "unknown", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in doc["layers"]]}}


def test_index_entry_points_at_the_subject():
    made = manifest()
    assert made.index_entry() == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + hashlib.sha256(made.manifest).hexdigest(), "size": len(made.manifest),
        "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": SUBJECT}}


def test_attestation_manifest_is_deterministic():
    assert manifest().manifest == manifest().manifest
    assert manifest().config == manifest().config


def test_statement_about_another_image_or_of_another_type_is_refused():
    sbom = statement("_", SUBJECT, SPDX, {"spdxVersion": "SPDX-2.3"})
    with pytest.raises(ValueError, match="filed as"):
        attestation_manifest("sha256:" + "00" * 32, [(sbom, SPDX)])
    with pytest.raises(ValueError, match="filed as"):
        attestation_manifest(SUBJECT, [(sbom, SLSA)])
