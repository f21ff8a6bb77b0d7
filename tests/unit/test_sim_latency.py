"""Order latency models: constructors, spec parsing, files and the two kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hftlib.sim import latency as L


@pytest.fixture(params=["py", "nb"])
def lat(request: pytest.FixtureRequest) -> tuple:
    """``(entry_latency, response_latency)``, compiled (``nb``) or plain Python (``py``)."""
    if request.param == "py":
        return L.entry_latency.py_func, L.response_latency.py_func
    return L.entry_latency, L.response_latency


def test_constant(lat: tuple) -> None:
    entry, resp = lat
    m = L.constant(1_000, 2_500)
    assert [entry(m, t) for t in (0, 10**18)] == [1_000, 1_000]
    assert resp(m, 5) == 2_500


def test_constant_rejects_negative_and_nan() -> None:
    with pytest.raises(ValueError, match="entry_ns must be >= 0"):
        L.constant(-1, 0)
    with pytest.raises(ValueError, match="response_ns must be a finite"):
        L.constant(0, float("nan"))


# The points and results below were checked against hftbacktest 2.4.4's IntpOrderLatency
# with rows (req, exch, resp) = (0, 10, 40), (100, 130, 150), (10000, 10030, 10050).
HBT_SERIES = ([0, 100, 10_000], [10, 30, 30], [30, 20, 20])
HBT_POINTS = [(5, 16, 46), (50, 70, 95), (99, 128, 149), (150, 180, 200), (10_010, 10_040, 10_060)]


@pytest.mark.parametrize(("sent", "at_venue", "back"), HBT_POINTS)
def test_interpolated_matches_hftbacktest(lat: tuple, sent: int, at_venue: int, back: int) -> None:
    entry, resp = lat
    m = L.interpolated(*HBT_SERIES)
    venue = sent + entry(m, sent)
    assert venue == at_venue
    assert venue + resp(m, venue) == back


def test_interpolated_is_exact_at_points_and_clamps(lat: tuple) -> None:
    entry, resp = lat
    m = L.interpolated([100, 200, 300], [7, 70, 700], [5, 50, 500])
    assert [entry(m, t) for t in (100, 200, 300)] == [7, 70, 700]
    assert [entry(m, t) for t in (-(10**12), 99, 301, 10**18)] == [7, 7, 700, 700]
    # response latencies sit on venue times 107, 270, 1000
    assert [resp(m, t) for t in (107, 270, 1000)] == [5, 50, 500]
    assert [resp(m, t) for t in (0, 106, 1001)] == [5, 5, 500]
    assert entry(m, 150) == 38  # trunc(63 / 100 * 50) + 7


def test_interpolated_single_point_and_duplicate_times(lat: tuple) -> None:
    entry, resp = lat
    m = L.interpolated([50], [3], [4])
    assert (entry(m, 0), entry(m, 50), entry(m, 99)) == (3, 3, 3)
    assert resp(m, 10) == 4
    m = L.interpolated([10, 10, 20], [1, 5, 9], [1, 1, 1])
    assert entry(m, 10) == 5
    assert entry(m, 15) == 7


def test_interpolated_venue_times_going_back_use_running_max(lat: tuple) -> None:
    _, resp = lat
    m = L.interpolated([0, 10], [100, 5], [1, 9])  # venue times 100, 15 -> 100, 100
    assert m.series_ts[1].tolist() == [100, 100]
    assert resp(m, 100) == 9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], [], []), "at least one point"),
        (([1, 2], [1], [1, 2]), "same length"),
        (([2, 1], [1, 1], [1, 1]), "row 1 goes back"),
        (([1, 2], [1, -1], [1, 1]), "entry_ns must be >= 0; row 1"),
        (([1, 2], [1, 1], [1, -3]), "response_ns must be >= 0; row 1"),
        (([[1]], [1], [1]), "1-D"),
        (([1.0, np.nan], [1, 1], [1, 1]), "finite"),
    ],
)
def test_interpolated_validation(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        L.interpolated(*args)


def test_random_is_seeded_and_independent_of_numpy(lat: tuple) -> None:
    entry, resp = lat
    a = L.random(1e6, 2e6, 0.3, seed=7)
    b = L.random(1e6, 2e6, 0.3, seed=7)
    np.random.seed(1)
    xs = [entry(a, 0) for _ in range(50)] + [resp(a, 0) for _ in range(50)]
    np.random.seed(2)
    ys = [entry(b, 0) for _ in range(50)] + [resp(b, 0) for _ in range(50)]
    assert xs == ys
    c = L.random(1e6, 2e6, 0.3, seed=8)
    assert [entry(c, 0) for _ in range(50)] != xs[:50]


def test_random_compiled_and_python_draw_the_same_stream() -> None:
    a = L.random(5e5, 5e5, 0.5, seed=123)
    b = L.random(5e5, 5e5, 0.5, seed=123)
    assert [L.entry_latency(a, 0) for _ in range(20)] == [
        L.entry_latency.py_func(b, 0) for _ in range(20)
    ]


def test_random_distribution_and_floor() -> None:
    m = L.random(1_000_000, 3_000_000, 0.25, seed=1)
    e = np.array([L.entry_latency(m, 0) for _ in range(4000)])
    r = np.array([L.response_latency(m, 0) for _ in range(4000)])
    assert np.median(e) == pytest.approx(1e6, rel=0.03)
    assert np.median(r) == pytest.approx(3e6, rel=0.03)
    assert np.std(np.log(e)) == pytest.approx(0.25, rel=0.05)
    m = L.random(1_000, 1_000, 2.0, seed=3, floor_ns=900)
    assert min(L.entry_latency(m, 0) for _ in range(500)) == 900
    flat = L.random(1_000, 2_000, 0.0, seed=3)
    assert {L.entry_latency(flat, 0) for _ in range(10)} == {1_000}


def test_random_validation() -> None:
    with pytest.raises(ValueError, match="median_entry_ns"):
        L.random(0, 1, 0.1, seed=1)
    with pytest.raises(ValueError, match="sigma"):
        L.random(1, 1, -0.1, seed=1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        L.random(1, 1, 0.1, seed=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "kind", "params"),
    [
        ("2ms", L.LAT_CONSTANT, [2e6, 2e6]),
        ("250", L.LAT_CONSTANT, [250, 250]),
        ("1.5us", L.LAT_CONSTANT, [1500, 1500]),
        ("constant:1ms,2ms", L.LAT_CONSTANT, [1e6, 2e6]),
        ("constant: 1s , 0ns", L.LAT_CONSTANT, [1e9, 0]),
        ("random:1ms,2ms,0.3,seed=7", L.LAT_RANDOM, [1e6, 2e6, 0.3, 0]),
        ("random:1ms,2ms,0.3,floor=100us", L.LAT_RANDOM, [1e6, 2e6, 0.3, 1e5]),
    ],
)
def test_parse_latency(spec: str, kind: int, params: list[float]) -> None:
    m = L.parse_latency(spec)
    assert m.kind[0] == kind
    assert m.params[: len(params)].tolist() == params


def test_parse_latency_seed_goes_to_the_generator() -> None:
    assert L.parse_latency("random:1ms,1ms,0.3,seed=7").rng[0] == 7


@pytest.mark.parametrize(
    "spec", ["", "fast", "2 hours", "constant:1ms", "random:1ms,1ms", "random:1,1,0.1,x=1", "foo:1"]
)
def test_parse_latency_errors_explain_the_syntax(spec: str) -> None:
    with pytest.raises(ValueError, match="bad latency spec") as info:
        L.parse_latency(spec)
    assert "constant:ENTRY,RESPONSE" in str(info.value)


def _series_files(tmp_path):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = np.array([0, 100, 10_000], dtype=np.int64)
    entry = np.array([10, 30, 30], dtype=np.int64)
    resp = np.array([30, 20, 20], dtype=np.int64)
    np.savez(tmp_path / "cols.npz", ts=ts, entry_ns=entry, response_ns=resp)
    rows = np.zeros(
        3,
        np.dtype(
            [("req_ts", "i8"), ("exch_ts", "i8"), ("resp_ts", "i8"), ("_padding", "i8")], align=True
        ),
    )
    rows["req_ts"] = ts
    rows["exch_ts"] = ts + entry
    rows["resp_ts"] = ts + entry + resp
    np.savez_compressed(tmp_path / "hbt.npz", data=rows)
    np.save(tmp_path / "hbt.npy", rows)
    (tmp_path / "s.csv").write_text("ts,entry_ns,response_ns\n0,10,30\n100,30,20\n10000,30,20\n")
    pq.write_table(
        pa.table({"ts": ts, "entry_ns": entry, "response_ns": resp}), tmp_path / "s.parquet"
    )
    return ["cols.npz", "hbt.npz", "hbt.npy", "s.csv", "s.parquet"]


def test_from_file_formats_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ref = L.interpolated(*HBT_SERIES)
    for name in _series_files(tmp_path):
        m = L.from_file(tmp_path / name)
        for a, b in zip(m, ref, strict=True):
            assert np.array_equal(a, b), name
        assert L.parse_latency(f"file:{tmp_path / name}").kind[0] == L.LAT_INTERP


def test_from_file_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not found"):
        L.from_file(tmp_path / "missing.npz")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="unsupported latency file type"):
        L.from_file(tmp_path / "x.txt")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="need columns ts, entry_ns, response_ns"):
        L.from_file(tmp_path / "bad.csv")
    rows = np.zeros(2, np.dtype([("req_ts", "i8"), ("exch_ts", "i8"), ("resp_ts", "i8")]))
    rows["req_ts"] = [0, 10]
    rows["exch_ts"] = [5, 0]
    rows["resp_ts"] = [9, 20]
    np.save(tmp_path / "rej.npy", rows)
    with pytest.raises(ValueError, match="1 row\\(s\\) have exch_ts <= 0"):
        L.from_file(tmp_path / "rej.npy")
    np.save(tmp_path / "plain.npy", np.arange(3))
    with pytest.raises(ValueError, match="structured array"):
        L.from_file(tmp_path / "plain.npy")


def test_parse_duration() -> None:
    assert L.parse_duration("3ms") == 3_000_000
    assert L.parse_duration("1e3us") == 1_000_000
    with pytest.raises(ValueError, match="bad duration"):
        L.parse_duration("-1ms")
