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
                     "exists", "stat", "iterdir", "glob", "touch", "rmdir", "is_file", "is_dir"}
# The ground floor, which every floor above may import: the package's own names (`__init__`: its version and
# distribution), `errors` and `words`. They import nothing of publisher.
GROUND = {"__init__", "errors", "words"}
# Which folders and top-level modules each folder or top-level module may import from, floor by floor
# (docs/architecture.md, "The floors"): the core never reaches for the edges; the steps take the options,
# the log and the report's lines from the modules below them; only the commands import the steps.
_FLOORS = {
    "image": {"image"},
    "matrix": {"matrix", "image"},
    "release": {"release", "image", "matrix"},
    "remote": {"remote", "image"},
    "local": {"local", "image", "release", "matrix"},
    "holdings": {"holdings", "remote", "image", "release", "matrix"},
    "render": {"matrix", "release"},
    "github": {"release", "image"},
    "report": {"release", "remote", "image"},
    "progress": {"github"},
    "options": {"render", "local", "remote", "release", "matrix", "image"},
    "steps": {"steps", "options", "progress", "report", "holdings", "remote", "local", "release", "matrix", "image"},
    "verify": {"options", "holdings", "remote", "release", "image"},
    "starter": {"render", "local", "matrix", "image"},
    "dry_run": {"steps", "report", "github", "holdings", "local", "release", "image"},
    "cli": {"dry_run", "verify", "starter", "steps", "options", "progress", "report", "github", "render", "holdings", "remote",
            "local", "release", "matrix", "image"},
    "__main__": {"cli"},
}
ALLOWED = {**{unit: set() for unit in GROUND}, **{unit: below | GROUND for unit, below in _FLOORS.items()}}
# The steps do their I/O through remote/, holdings/ and local/, never on their own.
STEPS = "steps"


def modules(unit: str) -> list[Path]:
    """A folder's modules, or a top-level module's one file (`__init__`: the package's own)."""
    folder = PACKAGE / unit
    return sorted(folder.glob("*.py")) if folder.is_dir() else [PACKAGE / f"{unit}.py"]


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imported(module: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "publisher":  # `from publisher import github`
            names.update(f"publisher.{alias.name}" for alias in node.names)
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


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_folders_and_top_level_modules_import_only_below_them(unit):
    wrong = [f"{path.name} imports {name}" for path in modules(unit) for name in imported(tree(path))
             if _unit(name) not in (None, unit, *ALLOWED[unit])]
    assert not wrong, wrong


def _unit(module: str) -> str | None:
    """Where `publisher.<x>...` sits: the folder or top-level module `x`, or `__init__` for the package's own
    names (`from publisher import __version__`); None for another package."""
    parts = module.split(".")
    if parts[0] != "publisher":
        return None
    name = parts[1] if len(parts) > 1 else "__init__"
    return name if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists() else "__init__"


def test_every_folder_and_top_level_module_is_declared():
    """A new folder or top-level module says where it sits in the stack before it can be used."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders | {p.stem for p in PACKAGE.glob("*.py")} == set(ALLOWED)


def test_the_floor_check_sees_top_level_modules():
    """A top-level module is on a floor too: `image/` importing `options` (above it) is caught."""
    bad = ast.parse("from publisher import options, __version__\nfrom publisher.errors import PublisherError\n")
    assert {_unit(name) for name in imported(bad)} == {"options", "__init__", "errors"}
    assert {_unit(name) for name in imported(bad)} - ALLOWED["image"] == {"options"}


def test_the_architecture_map_says_what_allowed_says():
    """docs/architecture.md's table of floors names, for each folder and top-level module, exactly what ALLOWED
    lets it import (the ground floor aside): the map and the imports agree."""
    text = (PACKAGE.parent / "docs/architecture.md").read_text()
    table = text.split("## The floors, bottom to top")[1].split("\n\n")[2]
    found = {}
    for line in table.splitlines()[2:]:
        cells = line.split(" | ")
        unit = cells[0].removeprefix("| `").rstrip("/`")
        found[unit] = set(re.findall(r"`([a-z_]+)/?`", cells[2])) - {unit}
    assert found == {unit: allowed - GROUND - {unit} for unit, allowed in ALLOWED.items()}


def folder_imports() -> dict[str, set[str]]:
    """folder or top-level module → the others its modules import, as the code says (not as ALLOWED says)."""
    return {unit: {f for path in modules(unit) for f in map(_unit, imported(tree(path))) if f and f != unit}
            for unit in ALLOWED}


def test_no_two_folders_import_each_other():
    graph = folder_imports()
    both = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, set())})
    assert not both, f"folders importing each other: {both}"


def test_the_allowed_imports_have_no_cycle():
    """ALLOWED itself is a stack: no folder may import one that may import it back."""
    both = sorted({tuple(sorted((a, b))) for a, targets in ALLOWED.items() for b in targets
                   if b != a and a in ALLOWED[b]})
    assert not both, both


@pytest.mark.parametrize("path", modules(STEPS), ids=lambda p: f"steps/{p.name}")
def test_steps_do_no_socket_or_file_io_of_their_own(path):
    found = {name for name in imported(tree(path)) if name.split(".")[0] in FORBIDDEN_MODULES}
    calls = [f".{node.func.attr}() at line {node.lineno}" for node in ast.walk(tree(path))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_METHODS]
    calls += [f"open() at line {node.lineno}" for node in ast.walk(tree(path))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS]
    assert not found and not calls, f"{path.name}: imports {sorted(found)}, calls {calls}"


def rebuilt(path: Path) -> list[str]:
    """The dataclasses.replace calls of a module (`replace(run, ...)`, `replace(v.variant, ...)`): a value
    rebuilt; str.replace and os.replace are method calls and not counted."""
    return [f"{path.name}:{node.lineno}: {ast.unparse(node)[:60]}" for node in ast.walk(tree(path))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "replace"]


def test_the_steps_never_rebind_the_run_nor_rewrite_a_variant():
    """Issue 18: each flow resolves its plan once (release/resolved) and every step reads that value; no step
    makes a new Run or rewrites a variant, and outside planning (release/plan.select, options) no module
    rewrites a matrix Variant (`replace(v.variant, ...)`)."""
    found = [line for path in modules(STEPS) for line in rebuilt(path)]
    found += [line for path in sorted(PACKAGE.rglob("*.py")) if path.relative_to(PACKAGE).as_posix()
              not in ("release/plan.py", "options.py") for line in rebuilt(path) if "replace(v.variant" in line]
    assert not found, found
    constructed = [f"{p.name}:{n.lineno}" for p in modules(STEPS) for n in ast.walk(tree(p))
                   if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Run"]
    assert len(constructed) == 1 and constructed[0].startswith("publish.py:"), constructed  # once, in publish.publish


def test_the_run_holds_no_plan():
    """Issue 26: one plan per flow. The Run carries what every step shares, and no Plan that could disagree
    with the flow's Resolved (a refresh publishes a cut of the selected Plan)."""
    from dataclasses import fields

    from publisher.steps.run import Run

    assert [f.name for f in fields(Run) if "plan" in f.name.lower() or "Plan" in str(f.type)] == []


def test_the_rebuild_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dataclasses import replace\nrun = replace(run, plan=p)\nx = 'a'.replace('a', 'b')\n")
    assert rebuilt(bad) == ["bad.py:2: replace(run, plan=p)"]


def test_no_two_modules_define_one_name():
    """One meaning per name: a function or class is defined once in the package (methods aside)."""
    defined: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in tree(path).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.setdefault(node.name, []).append(path.relative_to(PACKAGE).as_posix())
    twice = {name: paths for name, paths in defined.items() if len(paths) > 1}
    assert not twice, twice


def test_the_checks_see_a_violation(tmp_path):
    """The checks above can fail: a module that opens a file and imports httpx is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom publisher.steps.push import push\nopen('x').read()\nPath('x').read_text()\n")
    assert imported(tree(bad)) == {"httpx", "publisher.steps.push"}
    calls = [n for n in ast.walk(tree(bad)) if isinstance(n, ast.Call)]
    assert {getattr(c.func, "id", getattr(c.func, "attr", None)) for c in calls} >= {"open", "read_text"}


# uv's names, and those of the other projects the tests publish (examples/ruff, tests/test_any_project.py).
PAYLOAD_NAMES = re.compile(r"\buvx?\b|UV_|/usr/local/bin/uv|\bruff\b|\bty\b|astral", re.IGNORECASE)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_names_the_payload(path):
    """What images carry is declared in matrix.yaml (payload:), never written into publisher."""
    found = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
             if PAYLOAD_NAMES.search(line)]
    assert not found, found


# Declarative tables, not logic: read as a list of options, each one line.
TABLES = {"cli.py:_parser"}  # module:function, any line


def function_sizes() -> dict[str, int]:
    """`module:function` → its lines, `def` to last line (nested functions counted in their own right too)."""
    sizes = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes[f"{path.relative_to(PACKAGE).as_posix()}:{node.name}:{node.lineno}"] = node.end_lineno - node.lineno + 1
    return sizes


def test_functions_are_short():
    """Median at most 8 lines, none over 40 but the declarative tables: long functions are where bugs hide."""
    sizes = function_sizes()
    ordered = sorted(sizes.values())
    assert ordered[len(ordered) // 2] <= 8, f"median {ordered[len(ordered) // 2]} lines"
    assert {name: n for name, n in sizes.items() if n > 40 and name.rsplit(":", 1)[0] not in TABLES} == {}


def test_the_architecture_names_every_module():
    """docs/architecture.md is the map: every module of every folder, and every top-level module, is on it."""
    text = (PACKAGE.parent / "docs/architecture.md").read_text()
    missing = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py"))
               if p.stem not in ("__init__", "__main__") and f"`{p.stem}`" not in text and f"{p.parent.name}/{p.stem}" not in text]
    assert not missing, missing


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


def test_the_package_metadata_and_the_code_name_the_same_distribution_and_project_url():
    """The SBOM namespace and the provenance build type come from publisher.PROJECT_URL, read
    without importlib.metadata at start-up: pyproject's name and [project.urls] must agree with it."""
    import tomllib

    import publisher

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    assert project["name"] == publisher.DISTRIBUTION == "image-family-publisher"
    assert project["urls"] == {"Homepage": publisher.PROJECT_URL}
    assert publisher.PROJECT_URL == f"https://pypi.org/project/{project['name']}/"
    # The command keeps its name; the same command under the distribution's name is what `uvx NAME` runs.
    assert project["scripts"] == {"publisher": "publisher.cli:main", project["name"]: "publisher.cli:main"}


def test_no_identifier_claims_a_made_up_home():
    """github.com/astral-sh/publisher never existed: nothing shipped may name it."""
    shipped = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("templates/*"), PACKAGE.parent / "action.yml",
               PACKAGE.parent / "README.md", *(PACKAGE.parent / "docs").glob("*.md")]
    assert [p.name for p in shipped if "astral-sh/publisher" in p.read_text()] == []
