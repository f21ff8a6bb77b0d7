"""Shared fixtures: the shared real-data folder and temp paths."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from numba.core.registry import CPUDispatcher as Dispatcher

SHARED_DATA = Path(
    os.environ.get(
        "HFTLIB_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``../shared/data``; skip without it, but fail under ``CI=true``."""
    if not (SHARED_DATA / "README.md").is_file():
        reason = (
            f"real market data not found at {SHARED_DATA} (set HFTLIB_SHARED_DATA or place "
            "the shared/ folder beside the repository)"
        )
        if _in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture
def python_kernels(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Return ``swap(*modules)``: their kernels then run as plain Python.

    A ``py_func`` calling such kernels from Python needs them swapped for their own
    ``py_func``: :func:`hftlib.jit.nrt_free_internal` kernels have no Python entry point,
    and a Python entry point cannot unbox state holding typed dicts without reference
    counting. Swapping them also lets coverage see them.
    """

    def swap(*modules: ModuleType) -> None:
        names = {module.__name__ for module in modules}
        for module in modules:
            for name, obj in list(vars(module).items()):
                if not isinstance(obj, Dispatcher):
                    continue
                # every kernel of the given modules, and those without a Python entry point
                if obj.py_func.__module__ in names or obj.targetoptions.get("no_cpython_wrapper"):
                    monkeypatch.setattr(module, name, obj.py_func)

    return swap
