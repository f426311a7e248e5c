"""The layers of DESIGN.md: envs and nets import neither each other nor anything above them;
agents never imports arena. Checked two ways: an AST walk over every module (clear message
naming the file and line), and import-linter's contracts from pyproject.toml (the layers, and
arena's rooms never importing arena/commands/ or arena/cli.py). Also: no import cycles, and no
private name imported from another module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "agents", "envs", "nets")
FORBIDDEN = {
    "envs": {"nets", "agents", "arena"},
    "nets": {"envs", "agents", "arena"},
    "agents": {"arena"},
    "arena": set(),
}


def imported_packages(path: Path) -> list[tuple[str, int]]:
    """Top-level package names imported by a module, with line numbers (relative imports skipped:
    they stay inside the package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_lower_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"package {package} has no modules"
    violations = [
        f"{f.relative_to(ROOT)}:{line} imports {name}"
        for f in files
        for name, line in imported_packages(f)
        if name in FORBIDDEN[package]
    ]
    assert not violations, "layer violations:\n" + "\n".join(violations)


def test_envs_do_not_use_torch_nn() -> None:
    """STYLE.md rule 1: games are tensors and rules, never networks."""
    offenders = [
        f"{f.relative_to(ROOT)}:{node.lineno}"
        for f in sorted((ROOT / "envs").rglob("*.py"))
        for node in ast.walk(ast.parse(f.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and any(n.startswith("torch.nn") for n in
                ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]))
    ]
    assert not offenders, offenders


def test_import_linter_contract() -> None:
    importlinter = pytest.importorskip("importlinter")
    from importlinter import cli

    exit_code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"))
    assert exit_code == 0, "import-linter found a broken layer contract (run `lint-imports`)"
    del importlinter


def module_graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Every module of ``packages`` -> the modules of ``packages`` it imports, at the top or
    inside a function (a lazy import still makes a cycle in the design, if not at import time)."""
    modules = {}
    for package in packages:
        for f in (ROOT / package).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = f

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, f in modules.items():
        deps = set()
        here = name if f.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Import):
                deps |= {known(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = here
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                deps |= {known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in modules else known(base)
                         for alias in node.names}
        graph[name] = {d for d in deps if d is not None and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    """No module reaches itself through imports, lazy ones included."""
    found = cycles(module_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_names_imported_across_modules() -> None:
    """A ``_name`` belongs to its module: no ``from pkg.mod import _name`` in the four packages."""
    offenders = [
        f"{f.relative_to(ROOT)}:{node.lineno} imports {alias.name} from {node.module}"
        for package in PACKAGES
        for f in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f)))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in PACKAGES
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not offenders, "private names imported:\n" + "\n".join(offenders)


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]] and cycles({"a": {"b"}, "b": set()}) == []
