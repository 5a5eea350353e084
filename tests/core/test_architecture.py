"""The house rules of the layout (docs/architecture.md), checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "cnnlab"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lint_imports() -> int:
    """import-linter's exit status, run in-process.

    Its logging set-up (logging.config.dictConfig) disables every logger that exists already, which
    would silence cnnlab's warnings for the tests that run after this one (caplog sees nothing); undo that.
    """
    import logging

    from importlinter import cli

    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    disabled = {lg: lg.disabled for lg in loggers}
    try:
        return cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for lg, was in disabled.items():
            lg.disabled = was


def test_import_contract_holds():
    """Layers (cli > report > art | faces > core) and no cycles between siblings, by import-linter."""
    assert _lint_imports() == 0


def test_import_contract_catches_a_forbidden_arrow(tmp_path, monkeypatch):
    """The contract is not vacuous: a copy of the package where core imports art breaks it."""
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "cnnlab", ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    with open(copy / "cnnlab" / "core" / "errors.py", "a") as f:
        f.write("\nfrom cnnlab.art import config  # noqa: E402,F401\n")
    monkeypatch.syspath_prepend(str(copy))
    for name in [m for m in __import__("sys").modules if m == "cnnlab" or m.startswith("cnnlab.")]:
        monkeypatch.delitem(__import__("sys").modules, name)
    assert _lint_imports() == 1


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_rules(path: Path):
    """No module __getattr__ re-exports, no private names imported across modules, no module over ~400 lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body), (
        f"{path.name}: module __getattr__ hides imports from tools"
    )
    this = _module_name(path)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("cnnlab")
            and node.module != this
        ):
            private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
            assert not private, f"{path.name} imports private names {private} from {node.module}"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines (split it: at most {MAX_LINES})"


FACES_DEPTH = 7  # issue 27: the import graph inside faces/ at most 7 levels deep
FACES_UNITS = ("cnnlab.faces.facescrub", "cnnlab.faces.alexnet")  # rooms kept as they were: one node each


def _faces_unit(name: str) -> str:
    return next((unit for unit in FACES_UNITS if name == unit or name.startswith(unit + ".")), name)


def faces_import_depth() -> tuple[int, list[str]]:
    """The longest chain of module-scope imports between the modules of cnnlab.faces, and the chain.

    Imports inside functions (deferred, to keep torch out of a light import) and under TYPE_CHECKING are not
    edges; a package's __init__ is a facade, not a level; facescrub/ and alexnet/ count as one node each."""
    modules = {_module_name(p) for p in MODULES if _module_name(p).startswith("cnnlab.faces.")}
    nodes = {_faces_unit(m) for m in modules}
    edges: dict[str, set[str]] = {n: set() for n in nodes}
    for path in MODULES:
        name = _module_name(path)
        if name not in modules or path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module scope only
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:  # `from package import module` names the module
                    full = f"{node.module}.{alias.name}"
                    target = _faces_unit(full if full in modules else node.module)
                    if target in nodes and target != _faces_unit(name):
                        edges[_faces_unit(name)].add(target)

    def longest(node: str, seen: frozenset[str]) -> list[str]:
        best = [node]
        for nxt in edges[node] - seen:
            chain = [node, *longest(nxt, seen | {nxt})]
            best = max(best, chain, key=len)
        return best

    chain = max((longest(n, frozenset({n})) for n in nodes), key=len)
    return len(chain), chain


def test_faces_import_graph_is_shallow():
    depth, chain = faces_import_depth()
    assert depth <= FACES_DEPTH, " -> ".join(chain)
    assert depth >= 3  # the measure sees the rooms: training -> data -> facescrub at least
