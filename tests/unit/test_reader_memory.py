"""The reader's memory does not grow with the data's length (allocation peak, not time)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

from hftlib.data.reader import EventStream
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate, synthetic_instrument
from hftlib.instrument import Instrument

CHUNK = 8_192
ROW = 64


def peak_while_streaming(paths: list[Path]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        rows = 0
        last = np.iinfo(np.int64).min
        for chunk in EventStream.from_paths(paths, chunk_rows=CHUNK):
            assert chunk["local_ts"][0] >= last
            last = int(chunk["local_ts"][-1])
            rows += len(chunk)
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_merged_stream_peak_memory_is_bounded_by_chunks_not_rows(tmp_path: Path) -> None:
    synth = synthetic_instrument()
    other = Instrument.from_dict(synth.to_dict() | {"symbol": "SYNUSD2"})
    small, large = [], []
    for name, inst, seed in (("a", synth, 1), ("b", other, 2)):
        for n, bucket in ((20_000, small), (400_000, large)):
            path = tmp_path / f"{name}{n}.npy"
            write_events(path, generate(SynthParams(seed=seed), n, chunk_rows=50_000), inst)
            bucket.append(path)
    rows_small, peak_small = peak_while_streaming(small)
    rows_large, peak_large = peak_while_streaming(large)
    assert (rows_small, rows_large) == (40_000, 800_000)
    # 20x the rows, about the same peak: a few chunks per source, never the whole file
    # (the large files alone hold 51 MB of events).
    assert peak_large < 16 * CHUNK * ROW * 2
    assert peak_large < 2 * peak_small + 4 * CHUNK * ROW
