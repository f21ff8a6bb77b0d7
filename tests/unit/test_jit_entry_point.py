"""hftlib.jit.entry_point: compiled overloads called without per-call dispatch."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from hftlib.jit import entry_point, signature

Pair = namedtuple("Pair", ["a", "b"])


@njit(cache=False)
def _total(p: Pair, scale: float) -> float:
    return float(p.a.sum() + p.b.sum()) * scale


def test_entry_point_runs_the_overload_and_memoises_types() -> None:
    p = Pair(np.arange(3, dtype=np.int64), np.ones(2))
    fn = entry_point(_total, (p, 2.0))
    assert fn(p, 2.0) == 10.0
    assert signature(_total, (p, 2.0)) is signature(_total, (p, 2.0))
    # a different structure gets its own types, not the memoised ones
    q = Pair(np.arange(3, dtype=np.int32), np.ones((2, 2)))
    assert signature(_total, (q, 2.0)) != signature(_total, (p, 2.0))
    assert entry_point(_total, (q, 1.0))(q, 1.0) == 7.0


def test_untyped_arguments_fall_back_to_numba_typing() -> None:
    p = Pair(np.arange(3, dtype=np.int64), np.ones(2))
    assert len(signature(_total, (p, 3))) == 2  # an int is typed by numba, not memoised


def test_plain_python_functions_are_returned_as_they_are() -> None:
    py = _total.py_func
    assert entry_point(py, (Pair(np.zeros(1), np.zeros(1)), 1.0)) is py
