"""Event files: Parquet and npy round trips, metadata, atomic writes, clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hftlib.data.storage import iter_events, open_npy, read_events, read_meta, write_events
from hftlib.errors import StorageError
from hftlib.instrument import lookup_instrument
from hftlib.types import EVENT_DTYPE, F_BID, F_LAST, K_DEPTH, empty_events

INST = lookup_instrument("synthetic", "SYNUSD")


def sample(n: int, start: int = 1_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = empty_events(n)
    ev["flags"] = K_DEPTH | F_BID | F_LAST
    ev["local_ts"] = start + np.cumsum(rng.integers(0, 5, n))
    ev["exch_ts"] = ev["local_ts"] - 1
    ev["px"] = rng.integers(100, 200, n)
    ev["qty"] = rng.integers(0, 50, n)
    ev["seq"] = np.arange(n)
    return ev


def chunks_of(ev: np.ndarray, size: int) -> list[np.ndarray]:
    return [ev[i : i + size] for i in range(0, len(ev), size)]


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_round_trip_in_chunks(tmp_path: Path, suffix: str) -> None:
    ev = sample(10_000)
    path = tmp_path / f"ev{suffix}"
    meta = write_events(path, chunks_of(ev, 3_333), INST, {"converter": "test"})
    assert meta.rows == len(ev)
    assert (meta.first_local_ts, meta.last_local_ts) == (ev["local_ts"][0], ev["local_ts"][-1])
    back = read_meta(path)
    assert back.instrument == INST
    assert back.provenance == {"converter": "test"}
    assert back.rows == len(ev)
    np.testing.assert_array_equal(read_events(path), ev)
    parts = list(iter_events(path, 4096))
    assert [len(p) for p in parts] == [4096, 4096, 1808]
    np.testing.assert_array_equal(np.concatenate(parts), ev)


def test_npy_is_a_plain_memory_mappable_numpy_file(tmp_path: Path) -> None:
    ev = sample(1_000)
    path = tmp_path / "ev.npy"
    write_events(path, [ev], INST)
    plain = np.load(path)
    np.testing.assert_array_equal(plain, ev)
    mm = open_npy(path)
    assert isinstance(mm, np.memmap)
    assert not mm.flags.writeable
    assert json.loads((tmp_path / "ev.npy.json").read_text())["rows"] == 1_000


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_same_events_give_byte_identical_files(tmp_path: Path, suffix: str) -> None:
    ev = sample(5_000, seed=3)
    digests = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}{suffix}"
        write_events(path, chunks_of(ev, 1_000), INST, {"k": 1})
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    meta = write_events(path, [], INST)
    assert meta.rows == 0
    assert len(read_events(path)) == 0
    assert read_meta(path).rows == 0


def test_parquet_metadata_carries_instrument_and_provenance(tmp_path: Path) -> None:
    path = tmp_path / "ev.parquet"
    write_events(path, [sample(10)], INST, {"inputs": [{"name": "x.gz"}]})
    kv = pq.read_metadata(path).metadata
    meta = json.loads(kv[b"hftlib"])
    assert meta["instrument"]["symbol"] == "SYNUSD"
    assert meta["provenance"]["inputs"][0]["name"] == "x.gz"


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ev.parquet"

    def broken():
        yield sample(10)
        raise RuntimeError("converter died")

    with pytest.raises(RuntimeError, match="converter died"):
        write_events(path, broken(), INST)
    assert list(tmp_path.iterdir()) == []


def test_wrong_dtype_chunk_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="dtype"):
        write_events(tmp_path / "x.npy", [np.zeros(3, dtype=np.int64)], INST)


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="parquet or .npy"):
        write_events(tmp_path / "x.csv", [sample(2)], INST)


def test_missing_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such event file"):
        read_meta(tmp_path / "nope.parquet")
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(StorageError, match="not an hftlib event file"):
        read_meta(foreign)
    with pytest.raises(StorageError, match="missing event columns"):
        list(iter_events(foreign))
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(StorageError, match="not a readable Parquet"):
        read_meta(junk)
    npy = tmp_path / "ev.npy"
    write_events(npy, [sample(3)], INST)
    (tmp_path / "ev.npy.json").unlink()
    with pytest.raises(StorageError, match="sidecar"):
        read_meta(npy)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros(4))
    with pytest.raises(StorageError, match="not an event array"):
        open_npy(wrong)


def test_metadata_from_a_newer_format_is_refused(tmp_path: Path) -> None:
    npy = tmp_path / "ev.npy"
    write_events(npy, [sample(3)], INST)
    side = tmp_path / "ev.npy.json"
    side.write_text(side.read_text().replace('"format_version":1', '"format_version":99'))
    with pytest.raises(StorageError, match="newer hftlib"):
        read_meta(npy)


def test_dtype_survives_parquet(tmp_path: Path) -> None:
    path = tmp_path / "ev.parquet"
    write_events(path, [sample(4)], INST)
    assert read_events(path).dtype == EVENT_DTYPE
