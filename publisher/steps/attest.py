"""Attest every image before anything is pushed: its SBOM and provenance, as an attestation manifest.

What every attestation of the publish shares (`image/attest.Context`) is known before any build, and
its digest goes into each variant's inputs digest: a rerun that would attest differently is not "up to date".
What is particular to one image (its manifest digest, its packages) follows from those inputs.
"""

from __future__ import annotations

from pathlib import Path

from publisher.image.platform import Platform
from publisher import __version__
from publisher.image import oci, purl
from publisher.image.attest import Context, Facts, attest, created_time, python_version
from publisher.image.attestation import AttestationManifest
from publisher.image.oci import Image, sha256_hex
from publisher.image.packages import merge
from publisher.image.embedded import read_embedded
from publisher.image.sbom import BaseImage, Binary, Component, SbomInputs
from publisher.image.slsa import Dependency, ProvenanceInputs, SourceFile, full_commit
from publisher.local import artifacts
from publisher.local.checkout import ci_environment, has_file
from publisher.local.layers import file_digest
from publisher.local.scans import Scans
from publisher.release.plan import CREATED, OCI, REVISION, VERSION, Plan, VariantPlan
from publisher.release.resolved import Resolved
from publisher.options import Options
from publisher.steps.run import Run


def context(run: Run, plan: Plan, binaries: dict[Platform, Path], files: dict[Platform, dict[str, str]]) -> Context:
    """`binaries`: Platform → the folder of the payload's files; `files`: their digests."""
    wheels = {p: _wheel(run, plan, p) for p in binaries}  # each platform's, looked up once
    return shared_context(run.options, plan, files, {p: _payloads(plan, wheels[p], files[p]) for p in binaries},
                          {p: _embedded_components(run, plan, wheels[p], _supplier(plan)) for p in binaries})


def shared_context(options: Options, plan: Plan, files: dict | None = None, payloads: dict | None = None,
                   components: dict | None = None) -> Context:
    """What every attestation of the publish shares; without the payload (`files`, `payloads`, `components`)
    it is all its digest hashes, which a dry-run, fetching no payload, compares with what its images record."""
    env = ci_environment()
    return Context(
        image=_home(plan), supplier=_supplier(plan),
        # Named, not hashed: each variant's revision pins them, and a digest of a file every variant shares would
        # change every variant's provenance (and digest: an exact-tag conflict) when one variant's entry changes.
        matrix=SourceFile(options.matrix_file),
        template=SourceFile(plan.template) if has_file(options.root, plan.template) else None,
        source=f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}" if "GITHUB_REPOSITORY" in env else None,
        env=env,
        package=plan.payload.wheels.package if plan.payload.wheels else None,
        folders=(plan.payload.primary, plan.payload.derived),
        payload_version=plan.payload_version,
        files=files or {},
        payloads=payloads or {},
        components=components or {},
    )


def _home(plan: Plan) -> str:
    """The name the attestations give every image: not --repository's (one name, one digest, wherever it is pushed)."""
    return plan.home or plan.repositories[0]


def _supplier(plan: Plan) -> str:
    return plan.primary.labels.get(OCI + "vendor") or _home(plan).split("/")[1]


def attest_all(run: Run, resolved: Resolved, ctx: Context, images: dict[tuple[str, Platform], Image],
               tick) -> dict[tuple[str, Platform], AttestationManifest]:
    """(variant, platform) → the attestation manifest of that image, on its base as resolved."""
    scans = Scans(run.options.cache)
    plans = {v.variant.name: v for v in resolved.plan.variants}
    on_base = {key: image for key, image in images.items() if plans[key[0]].variant.base}  # not FROM scratch
    distinct = {b.digest: b for image in on_base.values() for b in image.layers}
    scanned = dict(zip(distinct, run.network.map(scans.layer, distinct.values())))  # each layer once, in parallel

    def one(key):
        v, image = plans[key[0]], images[key]
        packages = merge([scanned[b.digest] for b in image.layers]) if key in on_base else None
        made = attest(_facts(ctx, v, image, packages, resolved[v.variant.name].base_digest))
        tick(f"{key[0]} {key[1]}")
        return key, made

    return dict(map(one, sorted(images)))


def _facts(ctx: Context, v: VariantPlan, image: Image, packages, base_digest: str | None) -> Facts:
    version, platform = v.labels[VERSION], image.platform
    folder = ctx.folders[0] if v.variant.primary else ctx.folders[1]
    licenses = v.labels.get(OCI + "licenses")
    files = ctx.payload_version or "NOASSERTION"
    binaries = tuple(Binary(name, files, sha256_hex(digest), _purl(ctx.package, name, ctx.payload_version or None),
                            folder + name, licenses) for name, digest in ctx.files[platform].items())
    written = str(v.variant.base)  # as matrix.yaml and the Dockerfile write it
    base = BaseImage(written, base_digest, _base_supplier(written)) if base_digest else None
    revision = v.labels.get(REVISION)  # the commit this variant names (local/git), and its time
    sbom = SbomInputs(f"{ctx.image}:{v.tags[0]}", version, platform, image.digest, ctx.supplier,
                      created_time(v.labels.get(CREATED)), __version__, binaries, base,
                      packages if packages and packages.packages else None, python_version(image.config) if base else None,
                      ctx.components.get(platform, ()))
    provenance = ProvenanceInputs(
        __version__, version, v.variant.name, platform, ctx.matrix, ctx.template,
        SourceFile(v.dockerfile, sha256_hex(oci.digest(v.dockerfile_text.encode()))), ctx.source,
        revision if full_commit(revision) else None,
        Dependency(purl.docker(written, base_digest, str(platform)), base_digest) if base else None,
        ctx.payloads[platform], ctx.env)
    return Facts(sbom, provenance)


def _purl(package: str | None, name: str, version: str | None) -> str:
    """The file's package: the wheel's project on PyPI, or the file itself."""
    return purl.build("pypi", None, package, version, {}) if package else purl.build("generic", None, name, version, {})


def _payloads(plan: Plan, wheel: Path | None, files: dict[str, str]) -> tuple[Dependency, ...]:
    """The payload as the provenance's dependencies: its wheel, or else its files (name → digest)."""
    version = plan.payload_version or plan.release.text
    if wheel:
        return (Dependency(_purl(plan.payload.wheels.package, "", version), sha256_hex(file_digest(wheel)), wheel.name),)
    return tuple(Dependency(_purl(None, name, version), sha256_hex(digest), name) for name, digest in files.items())


def _wheel(run: Run, plan: Plan, platform: Platform) -> Path | None:
    """The payload's wheel for `platform`, downloaded already; None with --artifacts."""
    version, declared = plan.payload_version or plan.release.text, plan.payload
    if not declared.wheels or run.options.artifacts:
        return None
    tag = artifacts.wheel_platform(declared.wheels, platform)
    return artifacts.cached_wheel(declared.wheels.package, version, tag, run.options.cache)


def _embedded_components(run: Run, plan: Plan, wheel: Path | None, supplier: str) -> tuple[Component, ...]:
    """What the wheel's own SBOMs (PEP 770) say its files are made of. Not in the Context's digest: the
    wheel, pinned by the payload's digest, is their one source. A document in another format is said and left out."""
    found = []
    for name, data in (artifacts.wheel_sboms(wheel) if wheel else {}).items():
        try:
            found += read_embedded(data, plan.payload.files, supplier)
        except ValueError as why:
            run.progress.log(f"{wheel.name}: its SBOM {name} left out: {why}")
    return tuple(found)


def _base_supplier(base: str) -> str:
    domain, path, _ = purl.split_reference(base)
    if domain == purl.DOCKER_HUB and path.startswith("library/"):
        return "Docker Official Images"
    return path.split("/")[0]
