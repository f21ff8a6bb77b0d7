"""The synthetic market: parameters, determinism, chunking and the shape of the flow."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import pytest

from hftlib.data import _synth_kernel
from hftlib.data.synth import (
    SynthParams,
    SynthParamsError,
    generate,
    generate_array,
    synthetic_instrument,
)
from hftlib.refbook import L2Book
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_ID,
    NO_PX,
)

SMALL = SynthParams(levels=5, seed=11)


def _py(fn: Callable[..., int]) -> Callable[..., int]:
    """Return an njit function's plain-Python body (the function itself without JIT)."""
    return getattr(fn, "py_func", fn)


@pytest.fixture(params=[_py(_synth_kernel.fill_chunk), _synth_kernel.fill_chunk], ids=["py", "nb"])
def kernel(request: pytest.FixtureRequest) -> Callable[..., int]:
    """The chunk kernel as plain Python and compiled."""
    return request.param


def _concat(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)


@pytest.fixture(scope="module")
def stream() -> np.ndarray:
    """200k rows of the default market."""
    return generate_array(SynthParams(seed=5), 200_000)


def _messages(ev: np.ndarray) -> list[np.ndarray]:
    """Split ``ev`` into whole messages (a trailing unfinished one is dropped)."""
    ends = np.flatnonzero(ev["flags"] & F_LAST) + 1
    return np.split(ev[: ends[-1]], ends[:-1])


# --- parameters ----------------------------------------------------------------------------


def test_default_params_round_trip_through_json() -> None:
    params = SynthParams(seed=3, levels=20, trade_prob=0.2)
    text = msgspec.json.encode(params)
    assert msgspec.json.decode(text, type=SynthParams) == params
    assert SynthParams.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("seed", -1, "seed must be >= 0"),
        ("levels", 1, "levels must be in [2, 10000]"),
        ("start_px", 3, "start_px must be in [5, "),
        ("latency_min_ns", 0, "latency_min_ns must be in [1, "),
        ("max_spread", 1, "max_spread must be in [2, "),
        ("mean_gap_ns", float("nan"), "mean_gap_ns must be in"),
        ("trade_prob", 1.5, "trade_prob must be in [0.0, 1.0]"),
        ("touch_focus", 0.0, "touch_focus must be > 0"),
        ("qty_mean", 0.5, "qty_mean must be in [1.0, "),
        ("batch_mean", 17.0, "batch_mean must be in [1.0, 16.0]"),
        ("asset", 2**32, "asset must be in [0, 4294967295]"),
        ("levels", True, "levels must be an int"),
        ("qty_mean", "big", "qty_mean must be a number"),
    ],
)
def test_bad_params_are_rejected_with_the_field_named(
    field: str, value: object, fragment: str
) -> None:
    kwargs = {"levels": 5} if field == "start_px" else {}
    with pytest.raises(SynthParamsError) as info:
        SynthParams(**kwargs, **{field: value})
    assert fragment in str(info.value)


def test_probabilities_must_leave_room_for_depth_updates() -> None:
    with pytest.raises(SynthParamsError, match="trade_prob \\+ cancel_prob must be <= 1"):
        SynthParams(trade_prob=0.7, cancel_prob=0.4)


def test_unknown_and_badly_typed_fields_are_rejected_from_dicts() -> None:
    with pytest.raises(SynthParamsError, match="unknown field `levls`"):
        SynthParams.from_dict({"levls": 3})
    with pytest.raises(SynthParamsError, match="levels must be in"):
        SynthParams.from_dict({"levels": 0})


@pytest.mark.parametrize(("n_events", "chunk_rows"), [(-1, 10), (10, 0), (1.5, 10), (10, True)])
def test_generate_rejects_bad_sizes(n_events: object, chunk_rows: object) -> None:
    with pytest.raises(SynthParamsError):
        generate(SMALL, n_events, chunk_rows=chunk_rows)  # type: ignore[arg-type]


def test_synthetic_instrument_is_the_builtin_spec() -> None:
    inst = synthetic_instrument()
    assert inst.key == "synthetic:SYNUSD"
    assert (inst.tick_size, inst.lot_size) == (0.1, 0.001)


# --- determinism and chunking ----------------------------------------------------------------


def test_same_parameters_give_the_same_bytes() -> None:
    a = generate_array(SynthParams(seed=9), 20_000)
    b = generate_array(SynthParams(seed=9), 20_000)
    c = generate_array(SynthParams(seed=10), 20_000)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("chunk_rows", [1, 2, 7, 101, 4096, 30_000])
def test_chunks_concatenate_to_one_big_run(chunk_rows: int) -> None:
    whole = generate_array(SynthParams(seed=2, levels=8), 12_345)
    chunks = list(generate(SynthParams(seed=2, levels=8), 12_345, chunk_rows=chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    assert _concat(chunks).tobytes() == whole.tobytes()


def test_a_short_run_is_a_prefix_of_a_long_one_but_ends_a_message() -> None:
    long = generate_array(SMALL, 5_000)
    for n in (1, 2, 3, 17, 1234):
        short = generate_array(SMALL, n)
        assert short[:-1].tobytes() == long[: n - 1].tobytes()
        assert short["flags"][-1] == long["flags"][n - 1] | F_LAST
        assert (
            short[-1:][["px", "qty", "seq", "local_ts"]].tolist()
            == long[n - 1 : n][["px", "qty", "seq", "local_ts"]].tolist()
        )


def test_zero_events_yield_nothing() -> None:
    assert list(generate(SMALL, 0)) == []
    assert len(generate_array(SMALL, 0)) == 0


def test_python_and_compiled_kernels_agree(kernel: Callable[..., int]) -> None:
    expected = generate_array(SMALL, 3_000)
    got = _concat(list(generate(SMALL, 3_000, chunk_rows=256, kernel=kernel)))
    assert got.tobytes() == expected.tobytes()


# --- the shape of the flow ----------------------------------------------------------------------


def test_stream_opens_with_a_whole_book_snapshot() -> None:
    ev = generate_array(SMALL, 100)
    assert ev["flags"][0] == K_CLEAR | F_BID | F_ASK
    assert ev["px"][0] == NO_PX
    snap = ev[1:11]
    assert (snap["flags"] & KIND_MASK == K_SNAPSHOT).all()
    assert (snap["flags"][:5] & F_BID).all()
    assert (snap["flags"][5:] & F_ASK).all()
    assert snap["px"].tolist() == [SMALL.start_px - d for d in range(5)] + [
        SMALL.start_px + 1 + d for d in range(5)
    ]
    assert [bool(f & F_LAST) for f in ev["flags"][:11]] == [False] * 10 + [True]
    assert len(set(ev["seq"][:11])) == 1
    assert (ev["aux"][:11] == NO_ID).all()


def test_field_invariants(stream: np.ndarray) -> None:
    kinds = stream["flags"] & KIND_MASK
    assert set(np.unique(kinds)) == {K_DEPTH, K_TRADE, K_SNAPSHOT, K_CLEAR}
    sides = stream["flags"] & (F_BID | F_ASK)
    assert ((sides == F_BID) | (sides == F_ASK) | (kinds == K_CLEAR)).all()
    assert (np.diff(stream["local_ts"]) >= 0).all()
    assert (np.diff(stream["exch_ts"]) >= 0).all()
    assert (stream["local_ts"] - stream["exch_ts"] >= SynthParams().latency_min_ns).all()
    priced = kinds != K_CLEAR
    assert (stream["px"][priced] > 0).all()
    assert (stream["qty"][kinds == K_TRADE] > 0).all()
    assert (stream["qty"][kinds == K_SNAPSHOT] > 0).all()
    assert (stream["qty"][kinds == K_DEPTH] >= 0).all()
    assert (stream["order_id"] == NO_ID).all()
    assert stream["flags"][-1] & F_LAST


def test_rows_of_a_message_share_seq_and_times(stream: np.ndarray) -> None:
    for msg in _messages(stream[:20_000]):
        assert len(set(msg["seq"])) == 1
        assert len(set(msg["local_ts"])) == 1
        assert len(set(msg["exch_ts"])) == 1
        assert len(set(msg["flags"] & KIND_MASK) - {K_CLEAR, K_SNAPSHOT}) <= 1


def test_depth_messages_chain_and_trade_ids_count_up(stream: np.ndarray) -> None:
    kinds = stream["flags"] & KIND_MASK
    book_rows = stream[(kinds == K_DEPTH) | (kinds == K_SNAPSHOT)]
    seqs, first = np.unique(book_rows["seq"], return_index=True)
    assert (book_rows["aux"][first[1:]] == seqs[:-1]).all()
    trade_ids = stream["seq"][kinds == K_TRADE]
    assert (trade_ids == np.arange(1, len(trade_ids) + 1)).all()


def test_book_never_crosses_keeps_its_window_and_mostly_one_tick_spread(
    stream: np.ndarray,
) -> None:
    book = L2Book()
    spreads = []
    for row in stream[:60_000]:
        book.apply(int(row["flags"]), int(row["px"]), int(row["qty"]))
        if row["flags"] & F_LAST:
            assert not book.crossed()
            assert len(book.bids) == len(book.asks) == SynthParams().levels
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None
            assert ask is not None
            spreads.append(ask[0] - bid[0])
            # The window is consecutive ticks from each touch.
            assert book.bids.peekitem(0)[0] == bid[0] - SynthParams().levels + 1
    spread = np.asarray(spreads)
    assert spread.min() >= 1
    assert spread.max() <= SynthParams().max_spread
    assert np.mean(spread == 1) > 0.8


def test_trades_consume_the_touch_they_hit(stream: np.ndarray) -> None:
    book = L2Book()
    checked = 0
    rows = stream[:60_000]
    for i, row in enumerate(rows):
        flags = int(row["flags"])
        if flags & KIND_MASK == K_TRADE and i + 1 < len(rows):
            buy = bool(flags & F_BID)  # the aggressor's side
            touch = book.best_ask() if buy else book.best_bid()
            assert touch is not None
            assert row["px"] == touch[0]
            assert 0 < row["qty"] <= touch[1]
            nxt = rows[i + 1]
            assert nxt["flags"] & KIND_MASK == K_DEPTH
            assert bool(nxt["flags"] & F_ASK) == buy
            assert (nxt["px"], nxt["qty"]) == (touch[0], touch[1] - row["qty"])
            assert nxt["exch_ts"] == row["exch_ts"]
            checked += 1
        book.apply(flags, int(row["px"]), int(row["qty"]))
    assert checked > 1_000


def test_updates_concentrate_near_the_touch_and_the_mid_moves(stream: np.ndarray) -> None:
    book = L2Book()
    distances = []
    mids = set()
    for row in stream[:40_000]:
        flags = int(row["flags"])
        if flags & KIND_MASK == K_DEPTH and book.bids and book.asks:
            bid = book.best_bid()
            ask = book.best_ask()
            assert bid is not None
            assert ask is not None
            distances.append(bid[0] - row["px"] if flags & F_BID else row["px"] - ask[0])
        book.apply(flags, int(row["px"]), int(row["qty"]))
        if flags & F_LAST and book.bids and book.asks:
            mids.add(book.bids.peekitem(-1)[0] + book.asks.peekitem(0)[0])
    near = np.mean(np.abs(np.asarray(distances)) <= 2)
    assert near > 0.6
    assert len(mids) > 20


def test_message_arrivals_are_poisson_with_the_mean_gap(stream: np.ndarray) -> None:
    ends = np.flatnonzero(stream["flags"] & F_LAST)
    times = np.unique(stream["exch_ts"][ends])  # a trade and its update share a time
    gaps = np.diff(times)
    mean = SynthParams().mean_gap_ns
    assert abs(gaps.mean() - mean) / mean < 0.05
    # Exponential: the standard deviation is about the mean.
    assert abs(gaps.std() - mean) / mean < 0.1


def test_prices_stay_positive_near_tick_zero() -> None:
    params = SynthParams(levels=5, start_px=5, trade_prob=0.4, cancel_prob=0.3, seed=1)
    ev = generate_array(params, 50_000)
    priced = (ev["flags"] & KIND_MASK) != K_CLEAR
    assert ev["px"][priced].min() >= 1


def test_asset_field_is_set() -> None:
    ev = generate_array(SynthParams(levels=3, asset=7), 50)
    assert (ev["asset"] == 7).all()
