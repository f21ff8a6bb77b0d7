"""Numba decorators shared by the hot kernels.

``@nrt_free`` compiles a function cached and without numba's reference counting: right for
kernels that allocate nothing, where the atomic increments and decrements around every array
argument would cost more than the work (an L2 level update is a few ns of work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np

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


# --- calling compiled kernels from Python without per-call dispatch ----------------------------
_SIGNATURES: dict[Any, tuple[Any, ...]] = {}


class _Untyped(Exception):
    """An argument this module cannot key by type alone (numba's ``typeof`` decides)."""


def _type_key(value: Any) -> Any:
    """Return a hashable key that determines ``numba.typeof(value)``."""
    if isinstance(value, np.ndarray):
        f = value.flags
        return (value.dtype, value.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value), tuple(_type_key(v) for v in value))
    if isinstance(value, bool | float):
        return type(value)
    numba_type = getattr(value, "_numba_type_", None)  # typed Dict / List
    if numba_type is not None:
        return numba_type
    raise _Untyped


def signature(dispatcher: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return numba's argument types for ``args``, memoised by their structure.

    Typing a named tuple of many arrays costs milliseconds in numba's dispatcher (struct
    dtypes are converted field by field); the engine's state has the same structure on
    every run, so its types are looked up once per process.
    """
    try:
        key: Any = (dispatcher, tuple(_type_key(a) for a in args))
    except _Untyped:
        return tuple(dispatcher.typeof_pyval(a) for a in args)
    sig = _SIGNATURES.get(key)
    if sig is None:
        sig = _SIGNATURES[key] = tuple(dispatcher.typeof_pyval(a) for a in args)
    return sig


def entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Any:
    """Return the compiled function for ``args``' types, skipping per-call type dispatch.

    The overload is loaded from numba's on-disk cache, or compiled, on first use. Every
    later call must pass arguments of exactly these types (fresh C-contiguous writable
    event arrays, the same state objects). A plain Python function (a kernel run as
    ``py_func`` in tests) is returned as it is.
    """
    if not hasattr(dispatcher, "overloads"):
        return dispatcher
    sig = signature(dispatcher, args)
    overload = dispatcher.overloads.get(sig)
    if overload is None:
        dispatcher.compile(sig)
        overload = dispatcher.overloads[sig]
    return overload.entry_point
