"""The sweep grid parser: syntax, typing by PARAMS, ranges, order, and errors that say where."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlib.sweep.grid import MAX_POINTS, Axis, Grid, GridError, format_value, parse_grid

SPEC = {
    "interval_ms": (int, 100, "re-quote period"),
    "offset_ticks": (int, 2, "distance from the mid"),
    "qty": (float, 0.01, "quote size"),
    "skew": (float, 0.0, "inventory skew"),
    "post_only": (bool, True, "GTX quotes"),
}
NAMES = sorted(SPEC)


def parse(text: str | list[str]) -> Grid:
    return parse_grid(text, SPEC, strategy="mm")


def attempt(text: str) -> Grid | GridError:
    """Return the parsed grid or the GridError; any other exception fails the test."""
    try:
        return parse(text)
    except GridError as exc:
        return exc


def error(text: str | list[str]) -> str:
    with pytest.raises(GridError) as info:
        parse(text)
    return str(info.value)


# --- syntax and typing -------------------------------------------------------------------------


def test_lists_and_ranges_expand_in_written_order() -> None:
    grid = parse("offset_ticks=1:3:1 qty=0.02,0.01")
    assert grid.names == ("offset_ticks", "qty")
    assert grid.points() == [
        {"offset_ticks": 1, "qty": 0.02},
        {"offset_ticks": 1, "qty": 0.01},
        {"offset_ticks": 2, "qty": 0.02},
        {"offset_ticks": 2, "qty": 0.01},
        {"offset_ticks": 3, "qty": 0.02},
        {"offset_ticks": 3, "qty": 0.01},
    ]
    assert len(grid) == 6
    assert grid.varying == ("offset_ticks", "qty")


def test_several_grid_options_form_one_grid() -> None:
    assert parse(["interval_ms=50,100", "qty=0.01"]) == parse("interval_ms=50,100 qty=0.01")
    assert parse(["interval_ms=50,100", "qty=0.01"]).varying == ("interval_ms",)


def test_values_are_typed_by_params() -> None:
    grid = parse("interval_ms=50 qty=1,2 post_only=true,FALSE skew=-1:1:1")
    assert grid.values("interval_ms") == (50,)
    assert all(type(v) is float for v in grid.values("qty"))
    assert grid.values("qty") == (1.0, 2.0)
    assert grid.values("post_only") == (True, False)
    assert grid.values("skew") == (-1.0, 0.0, 1.0)
    assert all(type(v) is float for v in grid.values("skew"))


def test_ranges_include_stop_only_when_it_lands_on_the_grid() -> None:
    assert parse("interval_ms=10:50:20").values("interval_ms") == (10, 30, 50)
    assert parse("interval_ms=10:55:20").values("interval_ms") == (10, 30, 50)
    assert parse("offset_ticks=3:3:5").values("offset_ticks") == (3,)
    assert parse("qty=0.1:0.3:0.1").values("qty") == (0.1, 0.2, 0.3)
    assert parse("qty=0:1:0.3").values("qty") == (0.0, 0.3, 0.6, 0.9)
    # within the tolerance of the grid, STOP is taken as written
    assert parse("qty=0:0.3000000000001:0.1").values("qty") == (0.0, 0.1, 0.2, 0.3000000000001)


def test_ranges_and_values_mix_in_one_list() -> None:
    assert parse("offset_ticks=0,2:6:2,9").values("offset_ticks") == (0, 2, 4, 6, 9)


def test_untyped_grids_keep_ints_when_every_range_part_is_an_int() -> None:
    grid = parse_grid("a=1:3:1 b=1:2:0.5 c=true d=1.5,2")
    assert grid.values("a") == (1, 2, 3)
    assert all(type(v) is int for v in grid.values("a"))
    assert grid.values("b") == (1.0, 1.5, 2.0)
    assert grid.values("c") == (True,)
    assert grid.values("d") == (1.5, 2.0)


def test_grid_accessors() -> None:
    grid = parse("qty=0.01 interval_ms=1,2")
    assert grid.varying == ("interval_ms",)
    assert grid.to_spec() == "qty=0.01 interval_ms=1,2"
    with pytest.raises(KeyError, match="interval_ms"):
        grid.values("nope")


# --- errors say where --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("offset_ticks=1:x:1", "stop 'x' is not a number", 16),
        ("interval_ms=50,100 offset_ticks=1:x:1", "stop 'x' is not a number", 35),
        ("offset_ticks=y:2:1", "start 'y' is not a number", 14),
        ("offset_ticks=1:2:z", "step 'z' is not a number", 18),
        ("offset_ticks=1:2:0", "step '0' must be positive", 18),
        ("qty=1:2:-0.5", "step '-0.5' must be positive", 9),
        ("offset_ticks=3:1:1", "empty range: stop '1' is below start '3'", 16),
        ("offset_ticks=1:2", "range '1:2' is not START:STOP:STEP", 14),
        ("offset_ticks=1:2:3:4", "is not START:STOP:STEP", 14),
        ("offset_ticks=::1", "range start is empty", 14),
        ("offset_ticks=1.5", "value '1.5' is not an integer", 14),
        ("offset_ticks=1,1", "value 1 of 'offset_ticks' appears twice", 16),
        ("qty=1,1.0", "value 1.0 of 'qty' appears twice", 7),
        ("offset_ticks=1:3:1,2", "value 2 of 'offset_ticks' appears twice", 20),
        ("qty=1,,2", "empty value", 7),
        ("qty=", "has no values", 5),
        ("qty", "'qty' is not NAME=VALUES", 1),
        ("=1", "no parameter name", 1),
        ("qty=1 qty=2", "parameter 'qty' given twice", 7),
        ("post_only=yes", "value 'yes' of 'post_only' is not true or false", 11),
        ("post_only=0:1:1", "'post_only' is bool", 11),
        ("qty=nan", "value 'nan' is not a number", 5),
        ("qty=1e999", "value '1e999' is too large", 5),
        ("qty=true", "value 'true' is not a number", 5),
        ("offset_ticks=1:true:1", "stop 'true' is not a number", 16),
    ],
)
def test_errors_name_the_grid_the_reason_and_the_column(
    text: str, reason: str, column: int
) -> None:
    msg = error(text)
    assert msg.startswith(f"grid: {text!r}: ")
    assert reason in msg
    assert msg.endswith(f"(column {column})")


def test_unknown_parameter_lists_the_known_ones() -> None:
    msg = error("interval_ms=1 foo=1")
    assert "unknown parameter 'foo'" in msg
    assert "mm takes: interval_ms, offset_ticks, post_only, qty, skew" in msg
    assert msg.endswith("(column 15)")


def test_repeated_parameter_across_grid_options() -> None:
    assert "parameter 'qty' given twice (column 1)" in error(["qty=1", "qty=2"])


def test_empty_grids_are_errors() -> None:
    assert "no grid given" in error([])
    assert "no NAME=VALUES items" in error("   ")


def test_huge_grids_fail_before_expanding() -> None:
    assert f"at most {MAX_POINTS}" in error("interval_ms=1:100000000:1")
    assert f"at most {MAX_POINTS}" in error("qty=0:1:1e-12")
    assert "the grid has 1000000000 points" in error(
        "interval_ms=1:1000:1 offset_ticks=1:1000:1 skew=1:1000:1"
    )
    assert "too small to tell values apart" in error("qty=1:1.0000000000000002:1e-17")


def test_untyped_names_must_be_identifiers() -> None:
    with pytest.raises(GridError, match=r"'1a' is not a parameter name \(column 1\)"):
        parse_grid("1a=1")


# --- properties --------------------------------------------------------------------------------

ints = st.integers(min_value=-(10**12), max_value=10**12)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    axes = []
    for name in names:
        typ = SPEC[name][0]
        values = st.booleans() if typ is bool else ints if typ is int else floats
        vals = draw(st.lists(values, min_size=1, max_size=4, unique=True))
        axes.append(Axis(name, tuple(vals)))
    return Grid(tuple(axes))


@settings(max_examples=150, deadline=None)
@given(grids())
def test_written_grids_parse_back_to_themselves(grid: Grid) -> None:
    back = parse(grid.to_spec())
    assert back == grid
    for a, b in zip(back.axes, grid.axes, strict=True):
        assert [type(v) for v in a.values] == [type(v) for v in b.values]
    assert len(back.points()) == len(grid)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(-1000, 1000),
    st.integers(0, 2000),
    st.integers(1, 300),
)
def test_int_ranges_equal_python_ranges(start: int, span: int, step: int) -> None:
    grid = parse(f"interval_ms={start}:{start + span}:{step}")
    assert grid.values("interval_ms") == tuple(range(start, start + span + 1, step))


@settings(max_examples=150, deadline=None)
@given(
    st.decimals(min_value=-100, max_value=100, places=3),
    st.integers(0, 50),
    st.decimals(min_value="0.001", max_value=10, places=3),
    st.booleans(),
)
def test_float_ranges_step_exactly_and_include_a_stop_on_the_grid(
    start: object, n: int, step: object, on_grid: bool
) -> None:
    from decimal import Decimal

    a, s = Decimal(str(start)), Decimal(str(step))
    stop = a + n * s + (0 if on_grid else s / 2)
    values = parse(f"qty={a}:{stop}:{s}").values("qty")
    assert values == tuple(float(a + i * s) for i in range(n + 1))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_gives_a_grid_or_a_grid_error(text: str) -> None:
    got = attempt(text)
    if isinstance(got, GridError):
        assert str(got).startswith("grid: ")
    else:
        assert len(got.points()) == len(got) >= 1
        assert parse(got.to_spec()) == got


ALPHABET = "=,:. -+eE0123456789truefalsqinterval_msoffset_tickspost_onlyskew\t"


@settings(max_examples=200, deadline=None)
@given(grids(), st.data())
def test_mutated_grids_give_a_grid_or_an_error_at_a_real_column(
    grid: Grid, data: st.DataObject
) -> None:
    text = grid.to_spec()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()) and i < len(text):
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + data.draw(st.sampled_from(ALPHABET)) + text[i:]
    got = attempt(text)
    if isinstance(got, GridError):
        found = re.search(r"\(column (\d+)\)$", str(got))
        if found:
            assert 1 <= int(found.group(1)) <= len(text) + 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans() | ints | floats, min_size=1, max_size=5))
def test_format_value_round_trips_untyped(values: list[object]) -> None:
    for value in values:
        back = parse_grid(f"x={format_value(value)}").values("x")[0]
        assert back == value
        assert type(back) is type(value)
