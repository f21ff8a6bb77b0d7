"""Parity (issue 5 item 5): a paper run over a replayed recording gives the backtest's fills.

The backtest (:func:`hftlib.backtest`) and the paper path (recorded venue -> paper venue ->
event-time runner -> strategy host) run the unchanged ``market_maker`` callbacks on the same
events with the same latency and queue models; their fill tables and order logs must be
identical, row for row, on the synthetic market and on a slice of the real Binance USD-M
recording. Two paper runs with the same seed are identical too, and another seed is not.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hftlib.live.cosim import EventClock
from hftlib.live.host import StrategyHost
from hftlib.live.hub import Hub
from hftlib.live.paper import PaperVenue
from hftlib.sim.recorded_venue import RecordedVenue

import hftlib
from hftlib.cli import main
from hftlib.data.storage import read_events, read_meta, write_events
from hftlib.instrument import Instrument

from .conftest import MM

REAL_MM = {"order_qty": 0.01, "max_position": 0.03, "gamma": 0.01}
SLICE_NS = 240 * 1_000_000_000


def paper_run(
    path: Path,
    inst: Instrument,
    params: dict[str, object],
    *,
    latency: str,
    seed: int = 0,
    queue: str = "risk_averse",
    partial_fills: bool = False,
) -> StrategyHost:
    """Run ``market_maker`` on the paper venue over a replay of ``path``."""
    recorded = RecordedVenue([path], name="rec", simulate_orders=False)
    paper = PaperVenue(
        recorded, [inst], latency=latency, seed=seed, queue=queue, partial_fills=partial_fills
    )
    host = StrategyHost(
        "market_maker",
        strategy_id="mm",
        assets=[("rec", inst.symbol)],
        instruments=[inst],
        params=params,
    )
    asyncio.run(EventClock(Hub({"rec": paper}, [host])).run())
    return host


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("latency", "queue", "partial_fills"),
    [
        ("1ms", "risk_averse", False),
        ("constant:3ms,2ms", "log", False),
        ("random:1ms,1ms,0.5", "power:3", True),
    ],
)
def test_paper_equals_backtest_on_the_synthetic_market(
    syn_file: Path, syn_instrument: Instrument, latency: str, queue: str, partial_fills: bool
) -> None:
    kw = {"latency": latency, "queue": queue, "partial_fills": partial_fills, "seed": 7}
    bt = hftlib.backtest("market_maker", [syn_file], params=MM, **kw)
    host = paper_run(syn_file, syn_instrument, MM, **kw)  # type: ignore[arg-type]
    assert len(bt.fills) >= 10
    assert (bt.fills["side"] == 1).any()
    assert (bt.fills["side"] == -1).any()
    np.testing.assert_array_equal(host.fills(), bt.fills)
    np.testing.assert_array_equal(host.orders_log(), bt.orders_log)


def test_two_paper_runs_with_one_seed_are_identical(
    syn_file: Path, syn_instrument: Instrument
) -> None:
    latency = "random:1ms,1ms,0.8"
    a = paper_run(syn_file, syn_instrument, MM, latency=latency, seed=5)
    b = paper_run(syn_file, syn_instrument, MM, latency=latency, seed=5)
    c = paper_run(syn_file, syn_instrument, MM, latency=latency, seed=6)
    assert len(a.fills()) > 0
    assert digest(a.fills(), a.orders_log()) == digest(b.fills(), b.orders_log())
    assert digest(a.orders_log()) != digest(c.orders_log())  # the seed does matter


@pytest.fixture(scope="module")
def usdm_slice(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 4 minutes of Binance USD-M BTCUSDT (2024-08-08), converted by hft data."""
    out = tmp_path_factory.mktemp("usdm")
    full = out / "btcusdt.npy"
    raw = shared_data / "binance-l2-hftbacktest" / "usdm" / "btcusdt_20240808.gz"
    args = ["data", "convert", "binance", str(raw), "-o", str(full), "--no-progress"]
    args += ["--venue", "binance-futures", "--symbol", "BTCUSDT"]
    done = CliRunner().invoke(main, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    events = read_events(full)
    end = int(events["local_ts"][0]) + SLICE_NS
    cut = events[events["local_ts"] < end]
    path = out / "btcusdt_slice.npy"
    write_events(path, iter([cut]), read_meta(full).instrument, {"slice_of": str(raw)})
    return path


@pytest.mark.shared_data
@pytest.mark.parametrize("latency", ["2ms", "random:2ms,2ms,0.5"])
def test_paper_equals_backtest_on_binance_usdm(usdm_slice: Path, latency: str) -> None:
    inst = read_meta(usdm_slice).instrument
    bt = hftlib.backtest("market_maker", [usdm_slice], params=REAL_MM, latency=latency, seed=3)
    host = paper_run(usdm_slice, inst, REAL_MM, latency=latency, seed=3)
    assert len(bt.fills) >= 4
    np.testing.assert_array_equal(host.fills(), bt.fills)
    np.testing.assert_array_equal(host.orders_log(), bt.orders_log)
