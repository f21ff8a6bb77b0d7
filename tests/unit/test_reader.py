"""The streaming reader: many files, several instruments, merged by local time, flat memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hftlib.data.reader import EventStream, group_sources, make_source
from hftlib.data.storage import write_events
from hftlib.errors import StorageError
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.types import F_LAST, K_TRADE, empty_events

BTC = lookup_instrument("binance", "BTCUSDT")
ETH = lookup_instrument("binance", "ETHUSDT")


def events(ts: list[int] | np.ndarray, tag: int = 0) -> np.ndarray:
    ev = empty_events(len(ts))
    ev["flags"] = K_TRADE | F_LAST
    ev["local_ts"] = ts
    ev["exch_ts"] = ts
    ev["seq"] = np.arange(len(ts)) + tag * 1_000_000
    ev["qty"] = 1
    return ev


def write(path: Path, ev: np.ndarray, inst: Instrument) -> Path:
    write_events(path, [ev], inst)
    return path


def collect(stream: EventStream) -> np.ndarray:
    return np.concatenate(list(stream))


def test_files_of_one_instrument_are_walked_in_time_order(tmp_path: Path) -> None:
    day2 = write(tmp_path / "btc_2.npy", events([30, 40, 50], 2), BTC)
    day1 = write(tmp_path / "btc_1.parquet", events([10, 20, 30], 1), BTC)
    src = make_source([day2, day1])
    assert src.files == (day1, day2)
    out = collect(EventStream([src], chunk_rows=2))
    assert out["local_ts"].tolist() == [10, 20, 30, 30, 40, 50]


def test_overlapping_files_are_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "a.npy", events([10, 50]), BTC)
    b = write(tmp_path / "b.npy", events([20, 60]), BTC)
    with pytest.raises(StorageError, match="overlap"):
        make_source([a, b])


def test_mixed_instruments_in_one_source_are_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "a.npy", events([10]), BTC)
    b = write(tmp_path / "b.npy", events([20]), ETH)
    with pytest.raises(StorageError, match="differs"):
        make_source([a, b])


def test_merge_by_local_ts_with_deterministic_ties(tmp_path: Path) -> None:
    btc = write(tmp_path / "btc.npy", events([1, 5, 5, 9], 1), BTC)
    eth = write(tmp_path / "eth.parquet", events([5, 5, 6], 2), ETH)
    stream = EventStream.from_paths([btc, eth], chunk_rows=2)
    assert stream.instruments == [BTC, ETH]
    out = collect(stream)
    assert out["local_ts"].tolist() == [1, 5, 5, 5, 5, 6, 9]
    assert out["asset"].tolist() == [0, 0, 0, 1, 1, 1, 0]


def test_backwards_timestamps_are_refused_with_advice(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.npy", events([3, 2]), BTC)
    with pytest.raises(StorageError, match="validate --repair"):
        collect(EventStream.from_paths([bad]))


def test_directory_expands_to_its_event_files(tmp_path: Path) -> None:
    write(tmp_path / "a.npy", events([1, 2]), BTC)
    write(tmp_path / "b.npy", events([3]), BTC)
    (tmp_path / "notes.txt").write_text("ignored")
    [src] = group_sources([tmp_path])
    assert src.rows == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StorageError, match="no .parquet or .npy"):
        group_sources([empty])


def test_output_chunks_respect_chunk_rows(tmp_path: Path) -> None:
    a = write(tmp_path / "a.npy", events(np.arange(0, 1000, 2)), BTC)
    b = write(tmp_path / "b.npy", events(np.arange(1, 1000, 2)), ETH)
    sizes = [len(c) for c in EventStream.from_paths([a, b], chunk_rows=64)]
    assert max(sizes) <= 64
    assert sum(sizes) == 1000


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(st.integers(0, 40), max_size=60), min_size=1, max_size=4),
    st.integers(1, 16),
)
def test_merge_equals_stable_sort_of_all_sources(tmp_path_factory, per_source, chunk_rows) -> None:
    d = tmp_path_factory.mktemp("merge")
    sources = []
    expected = []
    for i, ts in enumerate(per_source):
        inst = Instrument(venue="v", symbol=f"S{i}", kind="spot", tick_size=0.01, lot_size=1.0)
        ev = events(sorted(ts), tag=i)
        path = write(d / f"s{i}.npy", ev, inst)
        sources.append(make_source([path]))
        ev["asset"] = i
        expected.append(ev)
    allev = np.concatenate(expected)
    want = allev[np.argsort(allev["local_ts"], kind="stable")]
    parts = list(EventStream(sources, chunk_rows=chunk_rows))
    got = np.concatenate(parts) if parts else np.empty(0, dtype=allev.dtype)
    np.testing.assert_array_equal(got, want)
