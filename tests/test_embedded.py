"""The SBOMs payload wheels carry (PEP 770) join the image SBOM: read from real wheels fetched with pip,
checked by spdx-tools and ntia-conformance-checker (tests/test_sbom.py's checks)."""

from __future__ import annotations

import base64
import json
import zipfile
from collections import Counter
from dataclasses import replace

import pytest
from ntia_conformance_checker import NTIAChecker
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from publisher.errors import PublisherError
from publisher.image.embedded import read_embedded
from publisher.image.platform import parse_platform, platform_of
from publisher.image.sbom import Binary, Component, build_sbom
from publisher.local.artifacts import cached_wheel, fetch_wheels, wheel_sboms
from publisher.matrix.payload import Payload, Wheels
from tests.conftest import ROOT
from tests.test_cosign import new_key, public
from tests.test_sbom import alpine_inputs, write
from tests.test_supply_chain import write_key
from tests.verifiers import Verifiers

# ty's musllinux wheels carry ty.cyclonedx.json (cargo-cyclonedx: every crate linked into ty).
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")
TY = Payload(("ty",), {}, "/", "/usr/local/bin/", Wheels("ty", {AMD64: "musllinux_1_2_x86_64"}, "3.12"))
SUPPLIER = "Astral Software Inc."


@pytest.fixture(scope="module")
def ty_wheel(cache):
    fetch_wheels(TY, "0.0.104", [AMD64], cache)
    return cached_wheel("ty", "0.0.104", "musllinux_1_2_x86_64", cache)


def with_components(components: tuple[Component, ...], files=("ty",)):
    inputs = alpine_inputs()
    binaries = tuple(Binary(name, "0.0.104", "c3" * 32, "pkg:pypi/ty@0.0.104", f"/usr/local/bin/{name}", "MIT")
                     for name in files)
    return replace(inputs, binaries=binaries, components=components)


def test_a_real_wheels_cyclonedx_sbom_joins_the_image_sbom(ty_wheel, tmp_path):
    documents = wheel_sboms(ty_wheel)
    assert list(documents) == ["ty.cyclonedx.json"]
    cyclonedx = json.loads(documents["ty.cyclonedx.json"])
    components = read_embedded(documents["ty.cyclonedx.json"], TY.files, SUPPLIER)
    assert len(components) == len(cyclonedx["components"]) > 100
    assert {c.within for c in components} == {("ty",)}  # the document's product is ty, a file of the payload

    sbom = build_sbom(with_components(components))
    assert validate_full_spdx_document(parse_file(write(tmp_path, sbom))) == []
    checker = NTIAChecker(write(tmp_path, sbom))
    assert checker.parsing_errors == [] and checker.validation_messages == []
    assert checker.all_components_without_info == [] and checker.compliant

    document = json.loads(sbom)
    by_purl = {ref["referenceLocator"]: p for p in document["packages"] for ref in p["externalRefs"]}
    for c in cyclonedx["components"]:
        assert by_purl[c["purl"]]["name"] == c["name"] and by_purl[c["purl"]]["versionInfo"] == c["version"]
    ty = next(p["SPDXID"] for p in document["packages"] if p["name"] == "ty" and p.get("primaryPackagePurpose") == "APPLICATION")
    contained = Counter(r["relatedSpdxElement"] for r in document["relationships"]
                        if r["spdxElementId"] == ty and r["relationshipType"] == "CONTAINS")
    cargo = [p for purl, p in by_purl.items() if purl.startswith("pkg:cargo/")]
    assert len(cargo) == len(cyclonedx["components"]) and all(contained[p["SPDXID"]] == 1 for p in cargo)
    # A crate from crates.io is supplied by it; a crate of the workspace by the payload's supplier.
    suppliers = {purl: p["supplier"] for purl, p in by_purl.items() if purl.startswith("pkg:cargo/")}
    assert {s for purl, s in suppliers.items() if "download_url=file" not in purl} == {"Organization: crates.io"}
    assert {s for purl, s in suppliers.items() if "download_url=file" in purl} == {f"Organization: {SUPPLIER}"}
    assert any(p.get("originator", "").startswith("Person: ") for p in cargo)
    assert all("@" not in p.get("originator", "") for p in cargo)  # names, not mail addresses


def test_an_sbom_that_does_not_match_the_wheels_record_is_refused(ty_wheel, tmp_path):
    forged = tmp_path / ty_wheel.name
    with zipfile.ZipFile(ty_wheel) as source, zipfile.ZipFile(forged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data.replace(b'"name": "ty"', b'"name": "tx"', 1) if item.filename.endswith(".cyclonedx.json") else data)
    with pytest.raises(PublisherError, match="does not match its RECORD"):
        wheel_sboms(forged)


def test_an_spdx_sbom_in_a_wheel_is_read_too(tmp_path):
    spdx = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "documentDescribes": ["SPDXRef-tool"], "packages": [
        {"SPDXID": "SPDXRef-tool", "name": "tool", "versionInfo": "1.0"},
        {"SPDXID": "SPDXRef-zlib", "name": "zlib", "versionInfo": "1.3.1", "licenseDeclared": "Zlib",
         "supplier": "Organization: zlib project",
         "checksums": [{"algorithm": "SHA256", "checksumValue": "AB" * 32}],
         "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:generic/zlib@1.3.1"}]},
        {"SPDXID": "SPDXRef-six", "name": "six", "versionInfo": "1.17.0",
         "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/six@1.17.0"}]},
        {"SPDXID": "SPDXRef-nameless", "name": "no purl", "versionInfo": "1"}]}
    found = read_embedded(json.dumps(spdx).encode(), ("tool", "helper"), SUPPLIER)
    assert found == (Component("zlib", "1.3.1", "pkg:generic/zlib@1.3.1", "Organization: zlib project", None, "Zlib",
                               (("SHA256", "ab" * 32),), ("tool",)),
                     Component("six", "1.17.0", "pkg:pypi/six@1.17.0", "Organization: Python Package Index", None, None, (), ("tool",)))
    sbom = build_sbom(with_components(found, files=("tool", "helper")))
    assert validate_full_spdx_document(parse_file(write(tmp_path, sbom))) == []
    assert NTIAChecker(write(tmp_path, sbom)).compliant


def test_a_document_naming_no_payload_file_is_part_of_every_file_and_duplicates_are_listed_once(tmp_path):
    cyclonedx = {"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"component": {"name": "library"}},
                 "components": [{"type": "library", "name": "anyhow", "version": "1.0.98", "purl": "pkg:cargo/anyhow@1.0.98",
                                 "licenses": [{"license": {"id": "MIT"}}, {"license": {"id": "Apache-2.0"}}],
                                 "hashes": [{"alg": "SHA-256", "content": "e1" * 32}, {"alg": "BLAKE3", "content": "00"}],
                                 "author": "David Tolnay <dtolnay@gmail.com>"}]}
    once = read_embedded(json.dumps(cyclonedx).encode(), ("a", "b"), SUPPLIER)
    assert once == (Component("anyhow", "1.0.98", "pkg:cargo/anyhow@1.0.98", "Organization: crates.io", "Person: David Tolnay",
                              "(MIT) AND (Apache-2.0)", (("SHA256", "e1" * 32),), ()),)
    document = json.loads(build_sbom(with_components(once + once, files=("a", "b"))))
    assert [p["name"] for p in document["packages"]].count("anyhow") == 1
    anyhow = next(p["SPDXID"] for p in document["packages"] if p["name"] == "anyhow")
    assert len([r for r in document["relationships"] if r["relatedSpdxElement"] == anyhow]) == 2  # a and b contain it


def test_what_is_not_cyclonedx_or_spdx_json_is_refused():
    for data in (b"<bom/>", b'{"hello": 1}', b"[]"):
        with pytest.raises(ValueError):
            read_embedded(data, ("ty",), SUPPLIER)


@pytest.mark.docker
def test_a_published_image_carries_its_wheels_sbom_signed(cli, engine, registry, cache, tmp_path):
    """ruff's example matrix at a ruff whose real wheels carry ruff.cyclonedx.json: its crates are in the
    SBOM buildx imagetools reads, valid for both checkers, and in the signed SPDX statement cosign verifies."""
    key = new_key()
    (tmp_path / "key.pub").write_bytes(public(key))
    repo = f"{registry.host}/embedded/ruff"
    run = cli("publish", "--version", "0.17.6", "--matrix", str(ROOT / "examples/ruff/matrix.yaml"), "--repository", repo,
              "--cache", str(cache), "--only", "scratch", "--created", "1732100000", "--revision", "0123abc",
              "--sign-key", write_key(tmp_path / "key.pem", key))
    assert run.code == 0, run.err
    tools = Verifiers(tmp_path / "docker-config")
    sboms = tools.imagetools(f"{repo}:0.17.6", "SBOM")
    index = json.loads(tools.crane("manifest", f"{repo}:0.17.6"))
    for image in index["manifests"][:2]:
        platform = platform_of(image["platform"])
        wheel = cached_wheel("ruff", "0.17.6", {AMD64: "musllinux_1_2_x86_64", ARM64: "musllinux_1_2_aarch64"}[platform], cache)
        crates = {c["purl"] for c in json.loads(wheel_sboms(wheel)["ruff.cyclonedx.json"])["components"]}
        document = sboms[str(platform)]["SPDX"]
        purls = {ref["referenceLocator"] for p in document["packages"] for ref in p["externalRefs"]}
        assert crates <= purls and len(crates) > 100
        data = json.dumps(document).encode()
        assert validate_full_spdx_document(parse_file(write(tmp_path, data))) == []
        assert NTIAChecker(write(tmp_path, data)).compliant
        signed = tools.cosign_verify_attestation(tmp_path / "key.pub", f"{repo}@{image['digest']}", "spdxjson")
        assert signed.returncode == 0, signed.stderr
        statement = json.loads(base64.b64decode(json.loads(signed.stdout.splitlines()[0])["payload"]))
        assert statement["predicate"] == document
