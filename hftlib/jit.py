"""Numba decorators shared by the hot kernels.

``@nrt_free`` compiles a function cached and without numba's reference counting: right for
kernels that allocate nothing, where the atomic increments and decrements around every array
argument would cost more than the work (an L2 level update is a few ns of work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

_F = TypeVar("_F", bound=Callable[..., Any])


def nrt_free(fn: _F) -> _F:
    """Compile ``fn`` cached, without reference counting (it must not allocate)."""
    return numba.njit(cache=True, _nrt=False)(fn)  # type: ignore[call-overload, no-any-return]


def nrt_free_inline(fn: _F) -> _F:
    """Like :func:`nrt_free`, and inlined into callers at numba's IR level."""
    return numba.njit(cache=True, inline="always", _nrt=False)(fn)  # type: ignore[call-overload, no-any-return]


def nrt_free_internal(fn: _F) -> _F:
    """Like :func:`nrt_free`, for kernels only numba code calls (no Python wrapper).

    Without a Python wrapper the arguments are never unboxed, so a kernel can take state
    that holds typed dicts (whose unboxing needs reference counting) and still run without it.
    """
    return numba.njit(cache=True, _nrt=False, no_cpython_wrapper=True)(fn)  # type: ignore[call-overload, no-any-return]


def nrt_kernel(fn: _F) -> _F:
    """Compile ``fn`` cached, *with* reference counting whoever calls it.

    Numba compiles a callee with its caller's reference-counting setting unless the callee
    sets one, so a kernel that allocates (typed dicts, new arrays, strategy code) and may be
    called from a reference-count-free one says so explicitly.
    """
    return numba.njit(cache=True, _nrt=True)(fn)  # type: ignore[call-overload, no-any-return]


def nrt_free_internal_inline(fn: _F) -> _F:
    """Like :func:`nrt_free_internal`, and inlined into callers at numba's IR level."""
    return numba.njit(  # type: ignore[call-overload, no-any-return]
        cache=True, _nrt=False, no_cpython_wrapper=True, inline="always"
    )(fn)
