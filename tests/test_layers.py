"""The layers of DESIGN.md: envs and nets import neither each other nor anything above them;
agents never imports arena. Checked two ways: an AST walk over every module (clear message
naming the file and line), and import-linter's layers contract from pyproject.toml."""

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
