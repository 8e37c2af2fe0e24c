"""Command line: `publisher init`, `publisher render`, `publisher publish` and `publisher verify`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from publisher import __version__
from publisher.errors import PublisherError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise PublisherError(f"{self.prog}: {message}; see '{self.prog} --help'")


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """`command`: the one asked for; only init's help names the payloads publisher knows (reading them
    costs a fifth of a dry-run)."""
    parser = _Parser(prog="publisher", description="Publish a family of container images from one matrix.yaml.")
    parser.add_argument("--version", action="version", version=f"publisher {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = commands.add_parser("init", help="write a starter matrix.yaml, template, Dockerfiles and release workflow",
                               description="Start a new project: matrix.yaml, variants/Dockerfile.j2 and its Dockerfiles, "
                                           ".github/workflows/release.yml. Asks nothing; refuses to overwrite without --force.")
    init.add_argument("--image", required=True, metavar="REPOSITORY", help="where the images go, e.g. ghcr.io/org/tool")
    payloads = _payloads_known() if command in ("init", None) else "one publisher knows (publisher init --help)"
    init.add_argument("--payload", metavar="PACKAGE", help=f"what the images carry: the executables the wheels of this package "
                                                          f"on the package index install, or {payloads}")
    init.add_argument("--version", dest="release", metavar="V", help="with --payload PACKAGE: this release of it "
                                                                      "(default: its newest)")
    init.add_argument("--cache", metavar="DIR", help="where its wheels are kept (default: $XDG_CACHE_HOME/publisher)")
    init.add_argument("--action", default=None, metavar="OWNER/REPO@REF", help="publisher's GitHub action for the workflow's 'uses:'")
    init.add_argument("--dir", default=".", metavar="DIR", help="the project's folder (default: the current one)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")

    render = commands.add_parser("render", help="write variants/<variant>/Dockerfile from the template",
                                 description="Render every variant's Dockerfile from the matrix and its template.")
    render.add_argument("--matrix", default="matrix.yaml", help="the matrix file (default: matrix.yaml)")
    render.add_argument("--check", action="store_true", help="write nothing; exit 1 listing each file that differs")

    publish = commands.add_parser("publish", help="plan, build, smoke-test, push and verify a release",
                                  description="Publish release --version of every variant; --dry-run shows the plan only.")
    publish.add_argument("--matrix", default="matrix.yaml", help="the matrix file (default: matrix.yaml)")
    publish.add_argument("--version", dest="release", metavar="V", help="the release, e.g. 0.5.31 (a leading v is dropped)")
    publish.add_argument("--dry-run", action="store_true", help="print the plan and what each tag would do: make, build and push nothing; "
                         "reads the target repositories, the bases and the package index (the payload's release and "
                         "wheel tags), unless --offline")
    publish.add_argument("--output", choices=["table", "json", "github-matrix", "github-matrix-variants"], default="table",
                         help="plan format (default: table); github-matrix: a strategy.matrix, one job per platform; "
                              "github-matrix-variants: one job per variant group (family)")
    publish.add_argument("--force", action="store_true", help="overwrite exact tags (X.Y.Z, X.Y.Z-T) that hold other content")
    publish.add_argument("--allow-downgrade", action="store_true", help="move floating tags even where they point at a newer release")
    publish.add_argument("--retries", type=int, default=6, metavar="N", help="tries of one registry call, the first included (default: 6)")
    publish.add_argument("--retry-time", type=float, default=300, metavar="S", help="seconds one registry call may take with its retries (default: 300)")
    publish.add_argument("--retry-delay", type=float, default=0.5, metavar="S", help="first wait before a retry, doubling with jitter (default: 0.5)")
    publish.add_argument("--timeout", type=float, default=60, metavar="S", help="seconds without an answer before a request fails (default: 60)")
    publish.add_argument("--jobs", type=int, metavar="N", help="builds, smoke tests and exports at once (default: the CPU count)")
    publish.add_argument("--no-build-cache", action="store_true", help="build every image again, trusting no build cache")
    publish.add_argument("--no-push", action="store_true", help="build and smoke-test every image; push nothing")
    publish.add_argument("--offline", action="store_true", help="with --dry-run: read nothing: no repository, base or package index")
    publish.add_argument("--created", help="image creation time of every variant, RFC 3339 or epoch seconds (default: "
                         "SOURCE_DATE_EPOCH, then the time of the commit each variant names)")
    publish.add_argument("--revision", help="source revision of every variant (default: the last commit that changed each "
                         "variant; with --dev, GITHUB_SHA, then git HEAD)")
    publish.add_argument("--repository", action="append", default=[], metavar="REF", help="publish here instead of the matrix's repositories (repeatable)")
    publish.add_argument("--platform", action="append", default=[], help="only this platform, e.g. linux/arm64 (repeatable; spaces or commas separate several)")
    publish.add_argument("--only", action="append", default=[], metavar="PATTERN",
                         help="only variants matching this shell-style pattern, e.g. 'python3.1*-alpine' (repeatable; spaces or commas separate several)")
    publish.add_argument("--skip", action="append", default=[], metavar="PATTERN",
                         help="leave out variants matching this shell-style pattern, e.g. '*-bookworm' (repeatable)")
    publish.add_argument("--artifacts", metavar="DIR", help="the payload's files from DIR/<os>-<arch>/ instead of its wheels")
    publish.add_argument("--base-mirror", metavar="HOST[:PORT][/PREFIX]", help="pull every base through this mirror, laid out like Docker Hub (default: $PUBLISHER_BASE_MIRROR)")
    publish.add_argument("--result", metavar="FILE", help="write what was published as JSON: per repository and tag, the index "
                         "digest, each platform's manifest digest, and what a moved tag held before")
    publish.add_argument("--stage", metavar="DIR", help="make, smoke-test and push by digest this runner's --platform(s), "
                         "no index, no tag; write the stage record into DIR (see docs/publishing.md)")
    publish.add_argument("--join", nargs="+", default=[], metavar="DIR", help="build nothing: join the stages' records "
                         "found in these folders into indexes, move tags and verify")
    publish.add_argument("--dev", action="store_true", help="the dev channel: publish this revision (--revision, else git) "
                         "to the matrix's dev_repositories as sha-<commit> tags; payload from --artifacts, or --version's wheels")
    publish.add_argument("--refresh", action="store_true", help="with --version V (published): remake only the variants whose "
                         "base moved since, and move their floating tags; exact tags keep V as first published")
    publish.add_argument("--builder", metavar="NAME", help="build with this docker buildx builder, e.g. one with native nodes")
    publish.add_argument("--cache", metavar="DIR", help="wheels and compressed layers (default: $XDG_CACHE_HOME/publisher)")
    publish.add_argument("--sign-key", metavar="PEM", help="sign every index and image with this EC P-256 key, as cosign does "
                         "(.sig tags and Sigstore bundles), and each image's SBOM and provenance "
                         "(an encrypted key's password: $PUBLISHER_SIGN_PASSWORD)")
    publish.add_argument("--keep-images", action="store_true", help="keep publisher's own images (publisher-build:*) "
                         "in the engine after the publish, e.g. to run one that failed its smoke tests")
    publish.add_argument("--no-attestations", action="store_true", help="no SBOM and no provenance: each index lists "
                         "its platform manifests only, no unknown/unknown entries (see docs/supply-chain.md)")
    _verify_parser(commands)
    return parser


def _verify_parser(commands) -> None:
    verify = commands.add_parser("verify", help="check that the repositories hold release V, attested and signed",
                                 description="Read every repository and check release --version: tags, platforms, "
                                             "SBOM and provenance of every image, and signatures with --key.")
    verify.add_argument("--matrix", default="matrix.yaml", help="the matrix file (default: matrix.yaml)")
    verify.add_argument("--version", dest="release", metavar="V", help="the release, e.g. 0.5.31")
    verify.add_argument("--key", metavar="PUB", help="the public key (PEM) the signatures must verify with")
    verify.add_argument("--repository", action="append", default=[], metavar="REF", help="check here instead of the matrix's repositories (repeatable)")
    verify.add_argument("--platform", action="append", default=[], help="only this platform (repeatable)")
    verify.add_argument("--only", action="append", default=[], metavar="VARIANT", help="only this variant (repeatable)")
    verify.add_argument("--no-attestations", action="store_true", help="the release was published with --no-attestations: "
                        "do not demand an SBOM and a provenance of every image")
    verify.add_argument("--base-mirror", metavar="HOST[:PORT][/PREFIX]", help="read the bases of platforms: from-base variants "
                        "through this mirror, as publish does (default: $PUBLISHER_BASE_MIRROR)")


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else argv
        args = _parser(argv[0] if argv and not argv[0].startswith("-") else None).parse_args(argv)
        return {"init": _init, "render": _render_command, "publish": _publish, "verify": _verify}[args.command](args)
    except PublisherError as e:
        from publisher.github import annotated  # loaded only to say what went wrong

        for line in e.lines:
            print(annotated(line), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("publisher: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours or a library's surprise: one line, the traceback on request
        if os.environ.get("PUBLISHER_DEBUG"):
            raise
        from publisher.github import annotated

        detail = (str(e).strip().splitlines() or [""])[0][:300]
        print(annotated(f"publisher: unexpected {type(e).__name__}: {detail}; set PUBLISHER_DEBUG=1 to see where, "
                        "and please report it"), file=sys.stderr)
        return 1


def _base_mirror(ns) -> str | None:
    """--base-mirror, else $PUBLISHER_BASE_MIRROR (publish and verify read bases alike)."""
    return ns.base_mirror or os.environ.get("PUBLISHER_BASE_MIRROR") or None


def _payloads_known() -> str:
    from publisher.starter import known_payloads

    first, *others = known_payloads()
    return f"{first}'s files (the default)" + "".join(f", {name}'s" for name in others) + " as init knows them"


def _init(args) -> int:
    from publisher.starter import DEFAULT_ACTION, Starter, init

    from publisher.options import default_cache

    cache = Path(args.cache) if args.cache else default_cache()
    started = init(Starter(args.image, Path(args.dir), args.payload, args.action or DEFAULT_ACTION, args.force,
                           args.release, cache))
    for path in started.written:
        print(f"wrote {path}")
    for note in started.notes:
        print(f"note: {note}")
    if not args.action:
        print(f"next: in .github/workflows/release.yml, replace {DEFAULT_ACTION} with where publisher's action lives, "
              "pinned by commit SHA (or pass --action)")
    print(f"then: publisher render --check && publisher publish --dry-run --offline --version {started.release}")
    return 0


def _render_command(args) -> int:
    from publisher import render
    from publisher.matrix.schema import load_matrix

    matrix = load_matrix(Path(args.matrix), args.matrix)
    rendered = render.render_all(matrix)
    if args.check:
        differing = render.differing(matrix, rendered)
        for line in differing:
            print(line)
        if differing:
            print("publisher render --check: run 'publisher render' and commit the result", file=sys.stderr)
        return 1 if differing else 0
    for path in render.write(matrix, rendered):
        print(f"wrote {path}")
    return 0


def _publish(ns: argparse.Namespace) -> int:
    from publisher.options import compute_options

    if ns.output.startswith("github-matrix") and not ns.dry_run:
        raise PublisherError(f"publisher: --output {ns.output} prints a plan: add --dry-run")
    job = compute_options(arguments(ns))
    if ns.dry_run:
        from publisher.dry_run import dry_run

        return dry_run(job, ns.offline, ns.output)
    from publisher.progress import Progress
    from publisher.report import plan_table, summary, tally, write_step_summary
    from publisher.steps.publish import publish

    progress = Progress()
    progress.log(plan_table(job.plan))
    outcome = publish(job.plan, job.options, progress)
    print(summary(job.plan, tally(outcome.events)))
    write_step_summary(outcome.resolved.plan if outcome.resolved else job.plan, outcome)
    if job.options.result:
        from publisher.local.result import write_result

        write_result(job.options.result, outcome.document)
    return 0


def _verify(ns: argparse.Namespace) -> int:
    from publisher.options import Arguments, compute_planned
    from publisher.local.keys import load_public_key
    from publisher.verify import verify_release

    planned = compute_planned(Arguments(matrix=ns.matrix, version=ns.release, only=tuple(ns.only), platforms=tuple(ns.platform),
                                        repositories=tuple(ns.repository), base_mirror=_base_mirror(ns)))
    found = verify_release(planned.plan, load_public_key(ns.key) if ns.key else None, attested=not ns.no_attestations,
                           base_mirror=planned.base_mirror)
    for line in found.problems:
        print(line)
    print(found.summary)
    return 1 if found.problems else 0


def arguments(ns: argparse.Namespace):
    """The command line's flags as explicit values: below this line nothing sees argparse."""
    from publisher.options import Arguments

    return Arguments(
        matrix=ns.matrix, version=ns.release, only=tuple(ns.only), skip=tuple(ns.skip), platforms=tuple(ns.platform),
        repositories=tuple(ns.repository), created=ns.created, revision=ns.revision, artifacts=ns.artifacts,
        base_mirror=_base_mirror(ns), cache=ns.cache, push=not ns.no_push, build_cache=not ns.no_build_cache,
        force=ns.force, allow_downgrade=ns.allow_downgrade, retries=ns.retries, retry_time=ns.retry_time,
        retry_delay=ns.retry_delay, timeout=ns.timeout, jobs=ns.jobs, result=ns.result,
        stage=ns.stage, join=tuple(ns.join), builder=ns.builder, dev=ns.dev,
        refresh=ns.refresh, sign_key=ns.sign_key, attestations=not ns.no_attestations, keep_images=ns.keep_images,
    )
