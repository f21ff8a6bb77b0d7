"""Sweeps end to end: quote_mm over a synthetic market on a two-process local Dask cluster,
against the same grid run in this process, the files, a failing point, and `hft sweep`."""

from __future__ import annotations

import math
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import hftlib
from hftlib.cli.sweep import sweep as sweep_command
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument
from hftlib.sweep import VOLATILE_COLUMNS, GridError, SweepError, SweepResult, sweep

N_EVENTS = 200_000
FIXED = {"qty": 0.01, "max_position": 0.05}
# interval_ms=0 is refused by quote_mm's make_state: those two points must come back as rows
GRID = "offset_ticks=1:2:1 interval_ms=0,50,100"
SETTINGS = {"latency": "1ms", "queue": "power3:3", "seed": 5}


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return generate_array(SynthParams(seed=3), N_EVENTS)


@pytest.fixture(scope="module")
def npy(events: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "syn.npy"
    write_events(path, iter([events]), synthetic_instrument(), {"test": True})
    return path


@pytest.fixture(scope="module")
def in_process(npy: Path) -> SweepResult:
    """The reference: the grid run point by point in this process (compiles the engine)."""
    return sweep("quote_mm", npy, GRID, params=FIXED, scheduler="sync", progress=False, **SETTINGS)


def stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=list(VOLATILE_COLUMNS))


def test_two_worker_cluster_matches_the_in_process_run(
    npy: Path, in_process: SweepResult, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = sweep(
        "quote_mm",
        npy,
        GRID,
        params=FIXED,
        n_workers=2,
        threads_per_worker=1,
        local_directory=tmp_path / "dask",
        out=out,
        progress=False,
        **SETTINGS,
    )
    table = res.table
    # one row per grid point, in grid order
    assert len(table) == 6
    assert table[["offset_ticks", "interval_ms"]].to_dict("records") == res.grid.points()
    # identical to the single-process run once timing and placement are dropped
    pd.testing.assert_frame_equal(stable(table), stable(in_process.table), check_exact=True)
    assert stable(table).to_csv() == stable(in_process.table).to_csv()
    assert stable(table).to_parquet() == stable(in_process.table).to_parquet()
    # both worker processes were warmed up and ran points
    assert len(res.info["workers"]) == 2
    assert set(res.info["compile_s"]) == set(res.info["workers"])
    assert set(table["worker"]) <= set(res.info["workers"])
    assert res.info["seed"] == 5
    assert (table["seed"] == 5).all()
    # the refused points are error rows; the others traded
    failed = table["error"].notna()
    assert list(table.loc[failed, "interval_ms"]) == [0, 0]
    assert table.loc[failed, "error"].str.contains("StrategyError: quote_mm: interval_ms").all()
    assert table.loc[failed, "fills"].isna().all()
    ok = table[~failed]
    assert (ok["fills"] > 0).all()
    assert (ok["events"] == N_EVENTS).all()
    assert ok["pnl"].notna().all()
    # files
    for name in ("sweep.parquet", "sweep.csv", "sweep.json"):
        assert (out / name).stat().st_size > 0
    back = pd.read_parquet(out / "sweep.parquet")
    pd.testing.assert_frame_equal(stable(back), stable(table), check_dtype=False)
    png = res.heatmap("offset_ticks", "interval_ms", "pnl", path=out / "heatmap.png")
    assert png.axes
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_rows_carry_the_backtest_figures(npy: Path, in_process: SweepResult) -> None:
    row = in_process.table.loc[1]  # offset_ticks=1, interval_ms=50
    params = {**FIXED, "offset_ticks": 1, "interval_ms": 50}
    direct = hftlib.backtest("quote_mm", [npy], params=params, **SETTINGS).to_json()
    for name in ("pnl", "sharpe", "max_drawdown", "volume", "fees", "fills", "orders", "events"):
        assert row[name] == direct[name], name
    assert row["position"] == direct["position"]["synthetic:SYNUSD"]
    assert math.isnan(row["return"])  # no capital given
    assert in_process.best("pnl")["pnl"] == in_process.table["pnl"].max()


def test_an_event_array_sweeps_like_its_file(events: np.ndarray, in_process: SweepResult) -> None:
    res = sweep(
        "quote_mm",
        events,
        GRID,
        params=FIXED,
        scheduler="sync",
        progress=False,
        instruments=[synthetic_instrument()],
        **SETTINGS,
    )
    pd.testing.assert_frame_equal(stable(res.table), stable(in_process.table), check_exact=True)


def test_bad_input_fails_before_anything_runs(npy: Path, tmp_path: Path) -> None:
    with pytest.raises(GridError, match=r"stop 'x' is not a number .*\(column 16\)"):
        sweep("quote_mm", npy, "offset_ticks=1:x:1", scheduler="sync")
    with pytest.raises(SweepError, match="both fixed and swept"):
        sweep("quote_mm", npy, "qty=0.01", params={"qty": 0.02}, scheduler="sync")
    with pytest.raises(SweepError, match="does not exist"):
        sweep("quote_mm", tmp_path / "missing.npy", "qty=0.01", scheduler="sync")
    with pytest.raises(TypeError, match="unknown backtest argument"):
        sweep("quote_mm", npy, "qty=0.01", scheduler="sync", latencyy="1ms")
    with pytest.raises(SweepError, match="cannot start a backtest on worker local: .*latency"):
        sweep("quote_mm", npy, "qty=0.01", scheduler="sync", latency="bogus", progress=False)


def test_an_existing_cluster_by_address_or_client(
    npy: Path, in_process: SweepResult, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=1,
        processes=False,  # a thread worker in this process, over real TCP
        protocol="tcp://",
        threads_per_worker=1,
        dashboard_address=None,
        local_directory=str(tmp_path),
    ) as cluster:
        kw = {"params": FIXED, "progress": False, **SETTINGS}
        by_address = sweep("quote_mm", npy, GRID, scheduler=cluster.scheduler_address, **kw)
        with Client(cluster) as client:
            by_client = sweep("quote_mm", npy, GRID, scheduler=client, **kw)
            assert client.status == "running"  # a caller's client is left open
        for res in (by_address, by_client):
            assert res.info["scheduler"].startswith("tcp://")
            pd.testing.assert_frame_equal(
                stable(res.table), stable(in_process.table), check_exact=True
            )


def test_the_local_cluster_is_closed_when_the_sweep_cannot_start(npy: Path, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="cannot start a backtest on worker tcp://"):
        sweep(
            "quote_mm",
            npy,
            "qty=0.01",
            n_workers=1,
            local_directory=tmp_path,
            latency="bogus",
            progress=False,
        )
    assert multiprocessing.active_children() == []


def test_cli_sweep_writes_the_table_and_heatmap(npy: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["-s", "quote_mm", "-g", "offset_ticks=1:2:1", "-g", "interval_ms=0,50,100"]
    args += ["-d", str(npy), "-p", "qty=0.01", "-p", "max_position=0.05", "--latency", "1ms"]
    args += ["--queue", "power3:3", "--seed", "5", "--scheduler", "sync", "--out", str(out)]
    result = CliRunner().invoke(sweep_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "6 points, 2 failed, on sync" in result.output
    assert "best by pnl: offset_ticks=1 interval_ms=" in result.output
    for name in ("sweep.parquet", "sweep.csv", "sweep.json", "heatmap_pnl.png"):
        assert (out / name).is_file(), name
    bad = CliRunner().invoke(sweep_command, ["-s", "quote_mm", "-g", "foo=1", "-d", str(npy)])
    assert bad.exit_code == 1
    assert "unknown parameter 'foo'; quote_mm takes: asset, interval_ms" in bad.output
