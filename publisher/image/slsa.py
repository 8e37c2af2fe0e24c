"""SLSA provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance) for one platform image.

Pure: the CI environment is a parameter, nothing is read from the machine, and no wall-clock time
goes in (`startedOn`/`finishedOn` are left out), so one release gives one predicate. Digests are
bare hex, as SLSA's DigestSet wants (`{"sha256": "ab12…"}`, `{"gitCommit": "…"}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from publisher import PROJECT_URL
from publisher.image import predicates
from publisher.image.oci import sha256_hex
from publisher.image.platform import Platform

PREDICATE_TYPE = predicates.PROVENANCE
# Both from the project URL of the package metadata (publisher.PROJECT_URL): the build type is
# described in docs/supply-chain.md ("Build type v1"), which the project page's README points to;
# outside CI the builder is publisher itself, named by its release's page on the package index.
BUILD_TYPE = f"{PROJECT_URL}#build-type-v1"


def tool_uri(version: str) -> str:
    """`https://pypi.org/project/<distribution>/<version>/`: the page of that release."""
    return f"{PROJECT_URL}{version}/"


@dataclass(frozen=True)
class Dependency:
    """A resolved input: `pkg:docker/python@sha256:…`, a wheel's URL or `pkg:pypi/tool@…`."""

    uri: str
    sha256: str  # hex, or `sha256:hex`
    name: str | None = None  # e.g. the wheel's file name


@dataclass(frozen=True)
class SourceFile:
    """A file of the release's source that shaped the image: matrix.yaml, the Dockerfile template,
    the variant's rendered Dockerfile. `sha256` None: named only, pinned by the source revision
    (the matrix and template are shared by every variant: their digests would change every
    variant's provenance when one variant's entry changes)."""

    path: str
    sha256: str | None = None


@dataclass(frozen=True)
class ProvenanceInputs:
    publisher_version: str
    version: str  # the release
    variant: str
    platform: Platform
    matrix: SourceFile
    template: SourceFile | None = None
    dockerfile: SourceFile | None = None  # this variant's rendered Dockerfile: what was built from
    repository: str | None = None  # of the source: `https://github.com/acme/tool`
    revision: str | None = None  # its git commit
    base: Dependency | None = None
    payloads: tuple[Dependency, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # os.environ, passed in


def build_provenance(inputs: ProvenanceInputs) -> dict:
    """The predicate (a dict; `attestation.statement` wraps and serialises it)."""
    run = _github_run(inputs.env)
    builder = {"id": run["builder"] if run else tool_uri(inputs.publisher_version),
               "version": {"publisher": inputs.publisher_version}}
    run_details: dict = {"builder": builder}
    if run and run["invocation"]:
        run_details["metadata"] = {"invocationId": run["invocation"]}
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": _external(inputs),
            "resolvedDependencies": _dependencies(inputs),
        },
        "runDetails": run_details,
    }


def _external(inputs: ProvenanceInputs) -> dict:
    """What the person releasing chose: version, variant, platform, and the files that say how."""
    files = {"matrix": _file(inputs.matrix)}
    for key, found in (("template", inputs.template), ("dockerfile", inputs.dockerfile)):
        if found:
            files[key] = _file(found)
    params = {"version": inputs.version, "variant": inputs.variant, "platform": str(inputs.platform),
              "files": files}
    if inputs.repository or inputs.revision:
        params["source"] = {k: v for k, v in (("repository", inputs.repository),
                                               ("revision", inputs.revision)) if v}
    return params


def full_commit(revision: str | None) -> bool:
    """A full git commit id (SHA-1 or SHA-256), as the provenance's `gitCommit` must be."""
    return bool(revision) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", revision) is not None


def _dependencies(inputs: ProvenanceInputs) -> list[dict]:
    """The source commit first, then the base image, then the payloads, each pinned by digest."""
    out = []
    if inputs.revision:
        if not full_commit(inputs.revision):
            raise ValueError(f"revision must be a full git commit id, not {inputs.revision!r}")
        uri = f"git+{inputs.repository}" if inputs.repository else "git"
        out.append({"uri": uri, "digest": {"gitCommit": inputs.revision}})
    for dep in ((inputs.base,) if inputs.base else ()) + inputs.payloads:
        entry = {"uri": dep.uri, "digest": {"sha256": sha256_hex(dep.sha256)}}
        if dep.name:
            entry["name"] = dep.name
        out.append(entry)
    return out


def _file(source: SourceFile) -> dict:
    if source.sha256 is None:
        return {"path": source.path}
    return {"path": source.path, "digest": {"sha256": sha256_hex(source.sha256)}}


def _github_run(env: Mapping[str, str]) -> dict | None:
    """GitHub Actions, as `actions/attest-build-provenance` names it: the builder is the runner
    kind (a stable id a policy can pin), the invocation is this run's attempt (its logs). Without
    `GITHUB_RUN_ID` there is no invocation: a caller that must give the same bytes on every run
    of a release (publisher's own attestations) leaves the run out and keeps the builder."""
    server, repo, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if not (server and repo):
        return None
    kind = "github-hosted" if env.get("RUNNER_ENVIRONMENT") == "github-hosted" else "self-hosted"
    attempt = env.get("GITHUB_RUN_ATTEMPT") or "1"
    invocation = f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}" if run_id else None
    return {"builder": f"{server}/actions/runner/{kind}", "invocation": invocation}
