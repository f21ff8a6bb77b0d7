"""Specialise the backtest loop for one strategy so numba can cache it on disk.

Numba cannot cache a function that receives another jitted function as an argument (the
type is keyed by the object, new in every process), so the loop module is copied with its
strategy binding block replaced by the strategy's callbacks, written to the cache
folder and imported. The file name carries a digest of the loop template, the strategy's
source and every hftlib source file, so an edit anywhere gives a new module and numba
never reuses stale machine code; an unchanged setup reuses the cache and starts in well
under a second.

The cache folder is ``$HFTLIB_CACHE_DIR`` or ``~/.cache/hftlib``; deleting it is safe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType

import numba
import numpy as np

from hftlib.engine.strategy import Strategy

_MARKER = re.compile(
    r"^# --- strategy binding: .*?\n.*?^# --- end of strategy binding -*\n", re.M | re.S
)


def cache_dir() -> Path:
    """Return the folder generated engines and their numba cache live in."""
    root = os.environ.get("HFTLIB_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "hftlib"
    return base / "engines"


@cache
def _sources_digest() -> str:
    """Digest every source file of the installed hftlib packages (core, sim, strategies)."""
    h = hashlib.sha256()
    # compiled code depends on the toolchain and the environment it was built in
    h.update(f"{numba.__version__} {np.__version__} {sys.version} {sys.prefix}".encode())
    for pkg in ("hftlib", "hftlib.sim", "hftlib.strategies"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in sorted(Path(folder).rglob("*.py")):
                h.update(str(path.relative_to(folder)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def engine_source(template_module: str, strategy: Strategy) -> str:
    """Return the loop module's source with the strategy's callbacks bound."""
    spec = importlib.util.find_spec(template_module)
    if spec is None or spec.origin is None:
        raise ImportError(f"loop template {template_module} not found")
    text = Path(spec.origin).read_text()
    if not _MARKER.search(text):
        raise ImportError(f"{template_module} has no strategy binding block to specialise")
    flags = "".join(
        f"HAS_{name.upper()} = {name in strategy.callbacks}\n"
        for name in ("on_book", "on_trade", "on_order")
    )
    bind = f"# --- strategy binding ({strategy.name}) ---\n{strategy.import_line}{flags}"
    return _MARKER.sub(lambda _m: bind, text, count=1)


def engine_module(template_module: str, strategy: Strategy) -> ModuleType:
    """Return the loop module specialised for ``strategy`` (generated once, then cached)."""
    source = engine_source(template_module, strategy)
    digest = hashlib.sha256(
        (source + strategy.source_digest + _sources_digest()).encode()
    ).hexdigest()[:20]
    slug = re.sub(r"\W", "_", strategy.name)[:40]
    name = f"hftlib_engine_{slug}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load generated engine {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
