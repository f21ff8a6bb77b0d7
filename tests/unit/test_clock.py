"""Clock-offset correction: one shift for the whole stream keeps every interval."""

from __future__ import annotations

import numpy as np
import pytest

from hftlib.data.clock import clock_shift, shift_local_ts
from hftlib.data.validate import ValidationReport, scan, validate
from hftlib.types import F_BID, F_LAST, F_REPAIRED_TS, K_TRADE, empty_events


def behind_clock(n: int = 50, offset_ns: int = -1_270_000_000) -> np.ndarray:
    rng = np.random.default_rng(5)
    ev = empty_events(n)
    ev["flags"] = K_TRADE | F_BID | F_LAST
    ev["exch_ts"] = 10**18 + np.cumsum(rng.integers(1, 10**6, n))
    ev["local_ts"] = ev["exch_ts"] + offset_ns + rng.integers(0, 5 * 10**6, n)
    ev["local_ts"] = np.maximum.accumulate(ev["local_ts"])
    ev["px"] = 100
    ev["qty"] = 1
    ev["seq"] = np.arange(n)
    return ev


@pytest.mark.parametrize(
    ("low", "base", "want"), [(None, 0, 0), (5, 0, 0), (-7, 0, 7), (-7, 3, 10), (2, 3, 1)]
)
def test_shift_brings_the_smallest_latency_to_the_base(low, base, want) -> None:
    assert clock_shift(low, base) == want


def test_negative_base_is_refused() -> None:
    with pytest.raises(ValueError, match="base_latency_ns"):
        clock_shift(-1, -5)


def test_shifted_stream_keeps_intervals_and_needs_no_row_repair() -> None:
    ev = behind_clock()
    found = scan([ev], ValidationReport())
    assert found.problems["negative_latency"] == len(ev)
    shift = clock_shift(found.min_latency_ns, 1_000)
    [out] = list(shift_local_ts([ev], shift))
    assert ev["local_ts"][0] != out["local_ts"][0]  # the input is not modified
    np.testing.assert_array_equal(np.diff(out["local_ts"]), np.diff(ev["local_ts"]))
    assert (out["local_ts"] - out["exch_ts"]).min() == 1_000
    report = ValidationReport()
    [repaired] = list(validate([out], report, repair=True))
    assert report.ok
    assert not np.any(repaired["flags"] & F_REPAIRED_TS)


def test_zero_shift_yields_the_same_chunks() -> None:
    ev = behind_clock(5, offset_ns=10)
    [out] = list(shift_local_ts([ev], 0))
    assert out is ev
