"""End-to-end backtests on the synthetic market: replay, market making, streaming,
determinism across processes, numba caching, and bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hftlib.sim.backtest import BacktestError

import hftlib
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument
from hftlib.engine.strategy import StrategyError
from hftlib.errors import DataError

N_EVENTS = 200_000
MM = {"interval_ms": 100, "offset_ticks": 1, "qty": 0.01, "max_position": 0.05}


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return generate_array(SynthParams(seed=3), N_EVENTS)


@pytest.fixture(scope="module")
def npy(events: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bt") / "syn.npy"
    write_events(path, iter([events]), synthetic_instrument(), {"test": True})
    return path


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_pure_replay_sees_every_event(events: np.ndarray) -> None:
    res = hftlib.backtest(None, events, instruments=[synthetic_instrument()])
    assert res.info["events"] == len(events)
    assert len(res.fills) == 0
    assert len(res.orders_log) == 0
    assert res.info["orders_submitted"] == 0
    span_s = (events["local_ts"][-1] - events["local_ts"][0]) / 1e9
    assert len(res.records) >= int(span_s)
    assert np.isfinite(res.records["mid"][-1])


def test_market_maker_fills_both_sides_within_limits(npy: Path) -> None:
    res = hftlib.backtest("quote_mm", [npy], params=MM, latency="1ms")
    fills = res.fills
    assert res.info["orders_submitted"] > 100
    assert (fills["side"] == 1).sum() > 10
    assert (fills["side"] == -1).sum() > 10
    assert np.all(fills["maker"] == 1)  # post-only quotes only ever make
    assert np.abs(fills["position"]).max() <= 50  # 0.05 in lots of 0.001
    assert np.abs(res.records["position"]).max() <= 0.05 + 1e-12
    out = res.to_json()
    assert out["fills"] == len(fills)
    assert set(out) >= {"events", "elapsed_s", "events_per_s", "equity", "position", "fees"}


def test_streaming_in_small_chunks_changes_nothing(npy: Path) -> None:
    big = hftlib.backtest("quote_mm", [npy], params=MM, latency="1ms")
    small = hftlib.backtest("quote_mm", [npy], params=MM, latency="1ms", chunk_rows=997)
    assert small.info["events"] == big.info["events"]
    assert digest(small.fills, small.records, small.orders_log) == digest(
        big.fills, big.records, big.orders_log
    )


def test_latency_separates_the_timelines(npy: Path) -> None:
    res = hftlib.backtest("quote_mm", [npy], params=MM, latency="constant:3ms,2ms")
    log = res.orders_log
    first = log["order_id"] == log["order_id"][0]
    sent, acked = log[first][0], log[first][1]
    assert acked["local_ts"] - sent["local_ts"] >= 5_000_000
    assert acked["exch_ts"] - sent["local_ts"] >= 3_000_000
    f = res.fills
    assert np.all(f["local_ts"] - f["exch_ts"] >= 2_000_000)


def test_time_range(npy: Path, events: np.ndarray) -> None:
    t0 = int(events["local_ts"][len(events) // 4])
    t1 = int(events["local_ts"][len(events) // 2])
    res = hftlib.backtest(None, [npy], start=t0, end=t1)
    inside = ((events["local_ts"] >= t0) & (events["local_ts"] < t1)).sum()
    assert res.info["events"] == inside


SCRIPT = """
import hashlib, json, sys
import numpy as np
import hftlib
res = hftlib.backtest("quote_mm", [sys.argv[1]], params={params}, latency="random:1ms,1ms,0.5",
                      seed=11)
h = hashlib.sha256()
for a in (res.fills, res.records, res.orders_log):
    h.update(np.ascontiguousarray(a).tobytes())
print(json.dumps({{"digest": h.hexdigest(), "fills": len(res.fills)}}))
"""


def test_byte_identical_across_processes(npy: Path, tmp_path: Path) -> None:
    code = SCRIPT.format(params=repr(MM))
    outs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code, str(npy)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert outs[0]["fills"] > 0


def test_a_second_process_loads_the_engine_from_the_cache(npy: Path) -> None:
    code = textwrap.dedent(
        """
        import sys, hftlib
        from hftlib.engine import codegen
        from hftlib.engine.strategy import load_strategy
        res = hftlib.backtest("quote_mm", [sys.argv[1]], params={"interval_ms": 100})
        mod = codegen.engine_module("hftlib.sim.backtest_loop", load_strategy("quote_mm"))
        print(sum(mod.run.stats.cache_hits.values()), sum(mod.run.stats.cache_misses.values()))
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(npy)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout.split()
        for _ in range(2)
    ]
    hits, misses = map(int, runs[1])
    assert (hits, misses) == (1, 0)


def test_invalid_actions_are_counted_not_fatal(npy: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad_actions.py"
    path.write_text(
        textwrap.dedent(
            """
            from numba import njit
            from hftlib.engine.actions import cancel, submit, submit_price
            from hftlib.engine.types import BUY, OT_LIMIT, TIF_GTC

            @njit(cache=True)
            def on_trade(ctx, state, asset):
                if state[0] > 0:
                    return
                state[0] = 1
                submit(ctx, asset, BUY, 1000, -5, TIF_GTC, OT_LIMIT, -1)
                submit_price(ctx, asset, BUY, 100.05, 0.001, TIF_GTC, OT_LIMIT, -1)
                cancel(ctx, 77)
                submit(ctx, asset, BUY, 10, 1, TIF_GTC, OT_LIMIT, 5)
                submit(ctx, asset, BUY, 10, 1, TIF_GTC, OT_LIMIT, 5)
            """
        )
    )
    res = hftlib.backtest(str(path), [npy])
    assert res.counters["bad_qty"] == 1
    assert res.counters["off_grid"] == 1
    assert res.counters["unknown_order"] == 1
    assert res.counters["duplicate_client_id"] == 1
    assert res.info["orders_submitted"] == 1


def test_bad_input_fails_before_the_loop(npy: Path, events: np.ndarray, tmp_path: Path) -> None:
    inst = synthetic_instrument()
    with pytest.raises(StrategyError, match="unknown strategy"):
        hftlib.backtest("no_such_thing", [npy])
    with pytest.raises(StrategyError, match="must be an integer"):
        hftlib.backtest("quote_mm", [npy], params={"interval_ms": "soon"})
    with pytest.raises(BacktestError, match="does not exist"):
        hftlib.backtest(None, [tmp_path / "missing.npy"])
    with pytest.raises(BacktestError, match="instruments"):
        hftlib.backtest(None, events)
    with pytest.raises(BacktestError, match="no events"):
        hftlib.backtest(None, events[:0], instruments=[inst])
    shuffled = events[:1000].copy()
    shuffled["local_ts"][500] = 0
    with pytest.raises(DataError, match="not sorted"):
        hftlib.backtest(None, shuffled, instruments=[inst])
    wrong = hftlib.lookup_instrument("binance", "BTCUSDT")
    with pytest.raises(BacktestError, match="configured for binance"):
        hftlib.backtest(None, [npy], instruments=[wrong])
    with pytest.raises(BacktestError, match="queue"):
        hftlib.backtest(None, [npy], queue="fastest")
    with pytest.raises(BacktestError, match="duration"):
        hftlib.backtest(None, [npy], record_interval="often")


def _rows(spec: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    from hftlib.types import EVENT_DTYPE

    out = np.zeros(len(spec), dtype=EVENT_DTYPE)
    for i, (flags, exch, local, px, qty) in enumerate(spec):
        out[i]["flags"] = flags
        out[i]["exch_ts"] = exch
        out[i]["local_ts"] = local
        out[i]["px"] = px
        out[i]["qty"] = qty
    return out


def test_top_of_book_rows_do_not_hold_back_the_venue(tmp_path: Path) -> None:
    """A BBO row with a later exchange time must not delay the depth rows behind it.

    The depth row (exch 2.5 ms) raises the bid through our post-only sell (sent at 1 ms,
    arriving at 3 ms); it happened first at the venue, so the order is rejected, whatever
    the BBO feed's own timestamp (4 ms) in front of it in local order.
    """
    from hftlib.types import F_ASK, F_BID, F_LAST, K_BBO, K_DEPTH, K_SNAPSHOT

    ms = 1_000_000
    t0 = 1_700_000_000_000_000_000
    events = _rows(
        [
            (K_SNAPSHOT | F_BID, t0, t0, 1000, 10),
            (K_SNAPSHOT | F_ASK | F_LAST, t0, t0, 1002, 10),
            (K_BBO | F_BID | F_LAST, t0 + 4 * ms, t0 + 5 * ms, 1000, 10),
            (K_DEPTH | F_BID | F_LAST, t0 + 2 * ms + ms // 2, t0 + 6 * ms, 1004, 7),
            (K_DEPTH | F_ASK | F_LAST, t0 + 9 * ms, t0 + 10 * ms, 1010, 1),
        ]
    )
    path = tmp_path / "post_only_sell.py"
    path.write_text(
        textwrap.dedent(
            """
            from numba import njit
            from hftlib.engine.actions import now, set_timer, submit
            from hftlib.engine.types import OT_LIMIT, SELL, TIF_GTX

            @njit(cache=True)
            def on_start(ctx, state):
                set_timer(ctx, 0, now(ctx) + 1_000_000, 0)

            @njit(cache=True)
            def on_timer(ctx, state, timer_id):
                submit(ctx, 0, SELL, 1003, 1, TIF_GTX, OT_LIMIT, -1)
            """
        )
    )
    res = hftlib.backtest(str(path), events, instruments=[synthetic_instrument()], latency="2ms")
    from hftlib.engine.types import ST_REJECTED, V_WOULD_CROSS

    final = res.orders_log[-1]
    assert (final["status"], final["reason"]) == (ST_REJECTED, V_WOULD_CROSS)
    assert len(res.fills) == 0


BUY_AT_1000 = """
from numba import njit
from hftlib.engine.actions import now, set_timer, submit
from hftlib.engine.types import BUY, OT_LIMIT, TIF_GTX

@njit(cache=True)
def on_start(ctx, state):
    set_timer(ctx, 0, now(ctx) + 1_000_000, 0)

@njit(cache=True)
def on_timer(ctx, state, timer_id):
    submit(ctx, 0, BUY, 1000, 2, TIF_GTX, OT_LIMIT, -1)
"""


def _l3_market() -> np.ndarray:
    from hftlib.types import (
        F_ASK,
        F_BID,
        F_LAST,
        K_L3_ADD,
        K_L3_CANCEL,
        K_L3_FILL,
        K_TRADE,
    )

    ms = 1_000_000
    t0 = 1_700_000_000_000_000_000
    rows = [
        (K_L3_ADD | F_BID, 1, 1000, 5, t0),  # ahead of us
        (K_L3_ADD | F_BID, 2, 1000, 3, t0),  # ahead of us
        (K_L3_ADD | F_ASK | F_LAST, 3, 1002, 4, t0),
        (K_L3_ADD | F_BID | F_LAST, 4, 1000, 6, t0 + 3 * ms),  # behind us (we arrive at 2 ms)
        (K_L3_CANCEL | F_BID | F_LAST, 1, 1000, 5, t0 + 4 * ms),
        (K_TRADE | F_ASK, -1, 1000, 3, t0 + 5 * ms),
        (K_L3_FILL | F_BID | F_LAST, 2, 1000, 3, t0 + 5 * ms),  # the last order ahead trades
        (K_TRADE | F_ASK, -1, 1000, 1, t0 + 6 * ms),
        (K_L3_FILL | F_BID | F_LAST, 4, 1000, 1, t0 + 6 * ms),  # an order behind us trades
        (K_L3_ADD | F_ASK | F_LAST, 5, 1003, 1, t0 + 9 * ms),
    ]
    events = _rows([(f, ts, ts, px, qty) for f, _oid, px, qty, ts in rows])
    events["order_id"] = [oid for _f, oid, _px, _q, _ts in rows]
    return events


def test_exact_fifo_on_l3_data(tmp_path: Path) -> None:
    path = tmp_path / "buy_at_1000.py"
    path.write_text(BUY_AT_1000)
    events = _l3_market()
    inst = [synthetic_instrument()]
    fifo = hftlib.backtest(str(path), events, instruments=inst, latency="1ms", queue="l3_fifo")
    assert len(fifo.fills) == 1
    fill = fifo.fills[0]
    assert (fill["px"], fill["qty"], fill["maker"]) == (1000, 2, 1)
    assert fill["exch_ts"] == events["exch_ts"][8]  # when the order behind ours traded
    # the risk-averse model cannot see who was ahead: 8 lots minus 4 traded leaves 4 ahead
    averse = hftlib.backtest(
        str(path), events, instruments=inst, latency="1ms", queue="risk_averse"
    )
    assert len(averse.fills) == 0


def test_the_loop_runs_the_same_as_plain_python(
    npy: Path, monkeypatch: pytest.MonkeyPatch, python_kernels: Callable[..., None]
) -> None:
    """Every branch of the loop, run as Python (coverage sees it), matches the compiled run."""
    from hftlib.sim import replay
    from hftlib.sim.backtest import LOOP_MODULE

    from hftlib.engine import codegen
    from hftlib.engine.strategy import load_strategy

    kwargs = {"params": MM, "latency": "random:1ms,1ms,0.3", "start": None}
    events = np.load(npy)[:20_000]
    inst = [synthetic_instrument()]
    compiled = hftlib.backtest("quote_mm", events, instruments=inst, **kwargs)
    engine = codegen.engine_module(LOOP_MODULE, load_strategy("quote_mm"))
    monkeypatch.setattr(engine, "run", engine.run.py_func)
    monkeypatch.setattr(engine, "_fast_forward", engine._fast_forward.py_func)
    python_kernels(engine, replay)
    python = hftlib.backtest("quote_mm", events, instruments=inst, **kwargs)
    assert len(compiled.fills) > 0
    assert digest(python.fills, python.records, python.orders_log) == digest(
        compiled.fills, compiled.records, compiled.orders_log
    )


@pytest.fixture(scope="module")
def buy_at_1000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The strategy file, written once so its engine compiles once for the module."""
    path = tmp_path_factory.mktemp("strategy") / "buy_at_1000.py"
    path.write_text(BUY_AT_1000)
    return path


@pytest.mark.parametrize(("trade_exch_ms", "filled"), [(2.0, False), (3.5, True)])
@pytest.mark.parametrize("chunk_rows", [1, 2, 1 << 16])
def test_the_venue_takes_rows_in_exchange_order(
    buy_at_1000: Path, trade_exch_ms: float, filled: bool, chunk_rows: int
) -> None:
    """A trade received late but stamped before our order arrived does not fill it.

    Our post-only bid (sent at 1 ms, 2 ms latency) reaches the venue at 3 ms, behind 5 lots.
    The trade of 10 lots through 1000 arrives after a depth row stamped 4 ms. Stamped 2 ms,
    it happened before our order existed: no fill. Stamped 3.5 ms, it happened after: our
    2 lots fill. Buffers of one row give the same answer as one big buffer.
    """
    from hftlib.types import F_ASK, F_BID, F_LAST, K_DEPTH, K_SNAPSHOT, K_TRADE

    ms = 1_000_000
    t0 = 1_700_000_000_000_000_000
    events = _rows(
        [
            (K_SNAPSHOT | F_BID, t0, t0, 1000, 5),
            (K_SNAPSHOT | F_ASK | F_LAST, t0, t0, 1002, 5),
            (K_DEPTH | F_ASK | F_LAST, t0 + 4 * ms, t0 + 5 * ms, 1003, 1),
            (K_TRADE | F_ASK | F_LAST, t0 + int(trade_exch_ms * ms), t0 + 6 * ms, 1000, 10),
            (K_DEPTH | F_ASK | F_LAST, t0 + 9 * ms, t0 + 10 * ms, 1004, 1),
        ]
    )
    res = hftlib.backtest(
        str(buy_at_1000),
        events,
        instruments=[synthetic_instrument()],
        latency="2ms",
        chunk_rows=chunk_rows,
    )
    assert len(res.fills) == (1 if filled else 0)
    if filled:
        assert int(res.fills[0]["qty"]) == 2
