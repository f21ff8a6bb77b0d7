"""Instrument specs and the fixed-point conversion: off-grid values are errors, never rounded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftlib.errors import InstrumentError, OffGridError
from hftlib.instrument import (
    Instrument,
    InstrumentKind,
    builtin_instruments,
    grid_values,
    lookup_instrument,
)


def btc() -> Instrument:
    return Instrument(
        venue="binance",
        symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        tick_size=0.01,
        lot_size=0.00001,
    )


def test_prices_become_ticks_exactly() -> None:
    inst = btc()
    assert inst.price_to_ticks(["61837.63000000", "0.01", 100]).tolist() == [6183763, 1, 10000]
    assert inst.size_to_lots(["3.78826000", "0.00001"]).tolist() == [378826, 1]


def test_off_grid_price_names_the_value() -> None:
    with pytest.raises(OffGridError, match=r"61837\.635.*0\.01.*binance:BTCUSDT") as info:
        btc().price_to_ticks([61837.63, 61837.635], where="f.gz:7")
    assert info.value.value == 61837.635
    assert info.value.index == 1
    assert "f.gz:7" in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e300])
def test_non_finite_or_huge_values_are_off_grid(bad: float) -> None:
    _, off = grid_values([1.0, bad], 0.01)
    assert off.tolist() == [False, True]


@given(st.integers(-(10**9), 10**9), st.sampled_from([0.5, 0.1, 0.01, 0.0001, 1e-8, 1.0, 10.0]))
def test_decimal_strings_round_trip(ticks: int, step: float) -> None:
    # A venue's decimal string for an on-grid price always converts back to its ticks.
    text = np.format_float_positional(ticks * step, precision=10, trim="-")
    out, off = grid_values([text], step)
    assert not off[0]
    assert out[0] == ticks


@given(st.integers(-(10**6), 10**6), st.sampled_from([0.1, 0.01, 1.0]))
def test_half_tick_is_always_off_grid(ticks: int, step: float) -> None:
    _, off = grid_values([(ticks + 0.5) * step], step)
    assert off[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", 0.0),
        ("lot_size", -1.0),
        ("contract_multiplier", float("nan")),
        ("maker_fee", 0.5),
    ],
)
def test_invalid_specs_are_rejected(field: str, value: float) -> None:
    spec = btc().to_dict() | {field: value}
    with pytest.raises(InstrumentError, match=field):
        Instrument.from_dict(spec)


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(InstrumentError, match="tick"):
        Instrument.from_dict(btc().to_dict() | {"tick": 1})


def test_json_round_trip() -> None:
    inst = btc()
    assert Instrument.from_dict(inst.to_dict()) == inst
    assert inst.to_json().startswith('{"venue":"binance"')


def test_builtins_load_and_lookup_is_case_insensitive() -> None:
    reg = builtin_instruments()
    assert "binance-futures:BTCUSDT" in reg
    assert lookup_instrument("Binance-Futures", "btcusdt").tick_size == 0.1
    with pytest.raises(InstrumentError, match="--instrument"):
        lookup_instrument("nowhere", "XYZ")
