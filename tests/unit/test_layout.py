"""Package layout and import rules (DESIGN.md: layout, dependency direction; STYLE.md §1, §10)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIDE = {
    "sim": "hftlib.sim",
    "venues": "hftlib.venues",
    "strategies": "hftlib.strategies",
    "live": "hftlib.live",
}
BANNED = {
    "hftlib": ("hftlib.sim", "hftlib.venues", "hftlib.strategies", "hftlib.live"),
    "sim": ("hftlib.live", "hftlib.venues", "hftlib.strategies"),
    "strategies": ("hftlib.live", "hftlib.venues", "hftlib.sim"),
    "venues": ("hftlib.live", "hftlib.strategies"),
}


def test_top_level_layout_matches_the_design_card() -> None:
    for name in (
        "pyproject.toml",
        "hftlib",
        "venues",
        "strategies",
        "sim",
        "live",
        "notebooks",
        "config",
        "tests",
        "benchmarks",
    ):
        assert (ROOT / name).exists(), name


def test_every_package_folder_is_listed_in_pyproject() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    assert {mapping[v] for v in SIDE.values()} == set(SIDE)
    found = set()
    for top, dotted in {"hftlib": "hftlib", **SIDE}.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((dotted, *rel)))
    assert found == listed


def test_side_folders_import_under_hftlib_only() -> None:
    code = (
        "import importlib.util, hftlib.sim, hftlib.venues, hftlib.strategies, hftlib.live;"
        "print(all(importlib.util.find_spec(n) is None or n == 'hftlib' "
        "for n in ('sim', 'live', 'venues', 'strategies')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def test_core_import_pulls_in_no_io_or_asyncio_and_compiles_nothing() -> None:
    code = (
        "import sys, hftlib, hftlib.types, hftlib.instrument, hftlib.data.storage, "
        "hftlib.data.reader, hftlib.convert.base, hftlib.refbook;"
        "print(sorted(m for m in ('asyncio', 'aiohttp', 'asyncpg', 'websockets', 'numba') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("top", sorted(BANNED))
def test_imports_go_one_way(top: str) -> None:
    offenders = []
    for f in (ROOT / top).rglob("*.py"):
        if top == "hftlib" and "cli" in f.relative_to(ROOT / top).parts:
            continue  # the CLI may import every layer (lazily)
        offenders += [
            f"{f}:{line} imports {mod}" for line, mod in _imports(f) if mod.startswith(BANNED[top])
        ]
    assert offenders == []
