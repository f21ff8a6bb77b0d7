"""Parse a parameter grid (``'offset_ticks=1:4:1 interval_ms=50,100'``) and expand it.

Syntax
------
A grid is one or more strings (one per ``--grid`` option); each holds items separated by
whitespace, ``NAME=VALUES``. ``VALUES`` is a comma-separated list whose elements are

- a value: an integer (``3``), a number (``0.25``, ``1e-3``) or ``true`` / ``false``;
- a range ``START:STOP:STEP``: START, START+STEP, ... up to STOP, which is included when
  it lands on the grid (within a relative tolerance of :data:`RANGE_TOLERANCE` of STEP).
  STEP must be positive and STOP at least START.

Values are typed by the strategy's ``PARAMS``: an ``int`` parameter takes integers only, a
``float`` parameter takes any number (``2`` becomes ``2.0``), a ``bool`` parameter takes
``true``/``false`` (no ranges). Without a spec (``params_spec=None``) a value is typed by
how it is written, and a range gives ints when START, STOP and STEP are all integers.
Float ranges are stepped in decimal arithmetic from the shortest text of each number, so
``0.1:0.3:0.1`` gives ``0.1, 0.2, 0.3`` exactly as written, not ``0.30000000000000004``.

Every mistake raises :class:`GridError` naming the grid text and the 1-based column of the
offending token: ``grid: 'offset_ticks=1:x:1': stop 'x' is not a number (column 16)``.
Unknown parameters list the known ones; empty ranges, zero or negative steps, repeated
parameters and repeated values are errors.

Order
-----
:meth:`Grid.points` is the cartesian product in the order the parameters were written (the
first one varies slowest), each parameter's values in the order written: a deterministic
order, the row order of a sweep's table.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, NoReturn

from hftlib.errors import HftlibError

MAX_POINTS = 1_000_000
"""Largest grid (and largest single range) accepted: a typo like ``1:1e9:1`` fails fast."""
RANGE_TOLERANCE = Decimal("1e-9")
"""STOP is included when it is within this fraction of STEP of a grid value."""

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOOLS = {"true": True, "false": False}
_TYPE_NAMES = {int: "int", float: "float", bool: "bool"}
_RANGE_PARTS = ("start", "stop", "step")


class GridError(HftlibError, ValueError):
    """A grid does not parse; the message says where."""


@dataclass(frozen=True)
class Axis:
    """One swept parameter and its values, in the order written."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Grid:
    """A parsed parameter grid: axes in the order written."""

    axes: tuple[Axis, ...]

    def __len__(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return tuple(a.name for a in self.axes)

    @property
    def varying(self) -> tuple[str, ...]:
        """Names of the parameters that take more than one value."""
        return tuple(a.name for a in self.axes if len(a.values) > 1)

    def values(self, name: str) -> tuple[Any, ...]:
        """Return the values of parameter ``name``."""
        for axis in self.axes:
            if axis.name == name:
                return axis.values
        raise KeyError(f"{name!r} is not in the grid ({', '.join(self.names)})")

    def points(self) -> list[dict[str, Any]]:
        """Return every combination, the first parameter varying slowest."""
        return list(self)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self.names
        for combo in itertools.product(*(a.values for a in self.axes)):
            yield dict(zip(names, combo, strict=True))

    def to_spec(self) -> str:
        """Return grid text that parses back to this grid (ranges written out as lists)."""
        return " ".join(
            f"{a.name}=" + ",".join(format_value(v) for v in a.values) for a in self.axes
        )


def format_value(value: Any) -> str:
    """Return the grid text of one value (``true``, ``3``, ``0.1``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def parse_grid(
    specs: str | Sequence[str],
    params_spec: Mapping[str, tuple[type, Any, str]] | None = None,
    *,
    strategy: str = "the strategy",
    max_points: int = MAX_POINTS,
) -> Grid:
    """Parse grid text into a :class:`Grid`.

    Parameters
    ----------
    specs : str or sequence of str
        Grid text; several strings (repeated ``--grid`` options) are one grid.
    params_spec : mapping, optional
        The strategy's ``PARAMS`` (``{name: (type, default, help)}``): names are checked
        against it and values typed by it. Default None: any identifier, values typed by
        how they are written.
    strategy : str
        Strategy name used in the unknown-parameter message. Default ``"the strategy"``.
    max_points : int
        Most points the grid (and any one range) may have. Default :data:`MAX_POINTS`.

    Returns
    -------
    Grid
        The axes in the order written.

    Raises
    ------
    GridError
        On any mistake, naming the grid text and the column.
    """
    texts = [specs] if isinstance(specs, str) else list(specs)
    if not texts:
        raise GridError("grid: no grid given (NAME=VALUES ...)")
    axes: list[Axis] = []
    seen: set[str] = set()
    for text in texts:
        if not isinstance(text, str):
            raise GridError(f"grid: {text!r} is not text")
        items = list(re.finditer(r"\S+", text))
        if not items:
            raise GridError(f"grid: {text!r}: no NAME=VALUES items")
        for match in items:
            axis = _parse_item(text, match.group(), match.start(), params_spec, strategy)
            if axis.name in seen:
                _fail(text, match.start(), f"parameter {axis.name!r} given twice")
            seen.add(axis.name)
            axes.append(axis)
            total = math.prod(len(a.values) for a in axes)
            if total > max_points:
                _fail(text, match.start(), f"the grid has {total} points; at most {max_points}")
    return Grid(tuple(axes))


def _fail(text: str, index: int, reason: str) -> NoReturn:
    raise GridError(f"grid: {text!r}: {reason} (column {index + 1})")


def _parse_item(
    text: str,
    item: str,
    at: int,
    spec: Mapping[str, tuple[type, Any, str]] | None,
    strategy: str,
) -> Axis:
    name, sep, raw = item.partition("=")
    if not sep:
        _fail(text, at, f"{item!r} is not NAME=VALUES")
    if not name:
        _fail(text, at, f"{item!r} has no parameter name before '='")
    if spec is not None:
        if name not in spec:
            known = ", ".join(sorted(spec)) or "none"
            _fail(text, at, f"unknown parameter {name!r}; {strategy} takes: {known}")
        typ: type | None = spec[name][0]
    else:
        if not _NAME.fullmatch(name):
            _fail(text, at, f"{name!r} is not a parameter name")
        typ = None
    if not raw:
        _fail(text, at + len(item), f"parameter {name!r} has no values after '='")
    values: list[Any] = []
    pos = at + len(name) + 1
    for element in raw.split(","):
        if not element:
            _fail(text, pos, f"empty value in the list of {name!r}")
        new = (
            _parse_range(text, element, pos, name, typ)
            if ":" in element
            else [_parse_value(text, element, pos, name, typ, "value")]
        )
        for value in new:
            if any(_same(value, old) for old in values):
                _fail(text, pos, f"value {format_value(value)} of {name!r} appears twice")
            values.append(value)
        pos += len(element) + 1
    return Axis(name, tuple(values))


def _same(a: Any, b: Any) -> bool:
    """Equal as parameter values: ``True`` is not ``1`` (types never mix within an axis)."""
    return type(a) is type(b) and a == b


def _parse_value(text: str, token: str, at: int, name: str, typ: type | None, what: str) -> Any:
    """Parse one scalar; ``what`` names it in errors (``value``, ``start``, ...)."""
    lowered = token.lower()
    if typ is bool or (typ is None and lowered in _BOOLS):
        if lowered not in _BOOLS:
            _fail(text, at, f"{what} {token!r} of {name!r} is not true or false (bool)")
        return _BOOLS[lowered]
    if typ is int or (typ is None and _INT.fullmatch(token)):
        if not _INT.fullmatch(token):
            reason = "is not an integer" if _FLOAT.fullmatch(token) else "is not a number"
            _fail(text, at, f"{what} {token!r} {reason} ({name!r} is int)")
        return int(token)
    if not _FLOAT.fullmatch(token):
        _fail(text, at, f"{what} {token!r} is not a number")
    value = float(token)
    if not math.isfinite(value):
        _fail(text, at, f"{what} {token!r} is too large")
    return value


def _parse_range(text: str, token: str, at: int, name: str, typ: type | None) -> list[Any]:
    parts = token.split(":")
    if len(parts) != 3:
        _fail(text, at, f"range {token!r} is not START:STOP:STEP")
    if typ is bool:
        _fail(text, at, f"range {token!r}: {name!r} is bool (give true,false)")
    offsets = [at, at + len(parts[0]) + 1, at + len(parts[0]) + len(parts[1]) + 2]
    for part, what, off in zip(parts, _RANGE_PARTS, offsets, strict=True):
        if not part:
            _fail(text, off, f"range {what} is empty in {token!r}")
        if part.lower() in _BOOLS:
            _fail(text, off, f"{what} {part!r} is not a number")
    as_int = typ is int or (typ is None and all(_INT.fullmatch(p) for p in parts))
    kind = int if as_int else float
    nums = [
        _parse_value(text, p, off, name, kind, what)
        for p, what, off in zip(parts, _RANGE_PARTS, offsets, strict=True)
    ]
    start, stop, step = nums
    if step <= 0:
        _fail(text, offsets[2], f"step {parts[2]!r} must be positive")
    if stop < start:
        _fail(text, offsets[1], f"empty range: stop {parts[1]!r} is below start {parts[0]!r}")
    if as_int:
        count = (stop - start) // step + 1
        if count > MAX_POINTS:
            _fail(text, at, f"range {token!r} has {count} values; at most {MAX_POINTS}")
        return list(range(start, stop + 1, step))
    return _float_range(text, token, at, start, stop, step)


def _float_range(
    text: str, token: str, at: int, start: float, stop: float, step: float
) -> list[float]:
    # Decimal arithmetic on each number's shortest text: the values are the ones written.
    with localcontext() as ctx:
        ctx.prec = 60
        a, b, s = (Decimal(repr(x)) for x in (start, stop, step))
        span = (b - a) / s
        steps = int((span + RANGE_TOLERANCE).to_integral_value(rounding="ROUND_FLOOR"))
        if steps + 1 > MAX_POINTS:
            _fail(text, at, f"range {token!r} has {steps + 1} values; at most {MAX_POINTS}")
        values = [float(a + i * s) for i in range(steps + 1)]
    if steps and abs(span - steps) <= RANGE_TOLERANCE:
        values[-1] = stop  # STOP landed on the grid: take it as written
    if len(set(values)) != len(values):
        _fail(text, at, f"range {token!r}: step {step!r} is too small to tell values apart")
    return values
