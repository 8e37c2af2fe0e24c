"""The layout keeps its promises: the pure folders do no I/O, and each folder imports only what it may."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"
PURE = ("release", "image")
FORBIDDEN_MODULES = {"httpx", "httpcore", "h11", "docker", "subprocess", "socket", "shutil", "tempfile",
                     "urllib.request", "requests", "os"}
FORBIDDEN_CALLS = {"open"}
FORBIDDEN_METHODS = {"open", "read_bytes", "read_text", "write_bytes", "write_text", "mkdir", "unlink", "rename",
                     "exists", "stat", "iterdir", "glob", "touch", "rmdir"}
# Which folders each folder may import from: the core never reaches for the edges.
ALLOWED = {
    "spec": {"spec", "release", "image"},
    "release": {"release", "image", "spec"},
    "image": {"image"},
    "remote": {"remote", "image"},
    "local": {"local", "image", "release", "spec"},
}


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imported(module: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def streams_only(call: ast.Call) -> bool:
    """`tarfile.open(fileobj=stream)` reads a stream the caller opened: streams in, streams out."""
    return any(k.arg == "fileobj" for k in call.keywords)


@pytest.mark.parametrize("path", [p for f in PURE for p in modules(f)], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_folders_import_nothing_that_does_io(path):
    found = {name for name in imported(tree(path))
             if name.split(".")[0] in FORBIDDEN_MODULES or ".".join(name.split(".")[:2]) in FORBIDDEN_MODULES}
    assert not found, f"{path.name} imports {sorted(found)}"


@pytest.mark.parametrize("path", [p for f in PURE for p in modules(f)], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_folders_open_no_file(path):
    calls = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                calls.append(f"{f.id}() at line {node.lineno}")
            elif isinstance(f, ast.Attribute) and f.attr in FORBIDDEN_METHODS and not streams_only(node):
                calls.append(f".{f.attr}() at line {node.lineno}")
    assert not calls, f"{path.name} does I/O: {', '.join(calls)}"


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_folders_import_only_below_them(folder):
    wrong = []
    for path in modules(folder):
        for name in imported(tree(path)):
            parts = name.split(".")
            if parts[0] == "publisher" and len(parts) > 2 and parts[1] not in ALLOWED[folder]:
                wrong.append(f"{path.name} imports {name}")
    assert not wrong, wrong


def test_the_checks_see_a_violation(tmp_path):
    """The checks above can fail: a module that opens a file and imports httpx is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom publisher.steps.push import push\nopen('x').read()\nPath('x').read_text()\n")
    assert imported(tree(bad)) == {"httpx", "publisher.steps.push"}
    calls = [n for n in ast.walk(tree(bad)) if isinstance(n, ast.Call)]
    assert {getattr(c.func, "id", getattr(c.func, "attr", None)) for c in calls} >= {"open", "read_text"}


PAYLOAD_NAMES = re.compile(r"\buvx?\b|UV_|/usr/local/bin/uv", re.IGNORECASE)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_names_the_payload(path):
    """What images carry is declared in matrix.yaml (payload:), never written into publisher."""
    found = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
             if PAYLOAD_NAMES.search(line)]
    assert not found, found


def test_the_offline_dry_run_loads_no_registry_client_engine_or_crypto():
    """The dry-run is a maintainer's preview, run often: it starts in well under a second."""
    import subprocess
    import sys

    code = ("import sys, contextlib, io\nfrom publisher.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['publish', '--dry-run', '--offline', '--version', '0.5.31']) == 0\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'docker', 'cryptography', 'h11'})))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
