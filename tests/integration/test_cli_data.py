"""`hft data ...` and `hft demo` end to end, through the real click application."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hftlib.cli import main
from hftlib.convert import FORMATS
from hftlib.data.storage import read_events, read_meta, write_events
from hftlib.data.synth import generate_array, synthetic_instrument
from hftlib.types import F_REPAIRED_TS


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_help_explains_every_format() -> None:
    out = run("data", "convert", "--help")
    for name in FORMATS:
        assert f"{name}:" in out
    assert "(unavailable)" not in out
    full = run("data", "formats")
    assert all(f"== {name} ==" in full for name in FORMATS)


def test_synth_inspect_validate(tmp_path: Path) -> None:
    path = tmp_path / "syn.npy"
    out = json.loads(run("data", "synth", "-o", path, "--events", "20000", "--seed", "3", "--json"))
    assert out["rows"] == 20_000
    info = json.loads(run("data", "inspect", path, "--json", "--head", "3"))
    assert info["summary"]["rows"] == 20_000
    assert info["meta"]["instrument"]["symbol"] == "SYNUSD"
    assert len(info["head"]) == 3
    assert info["head"][0]["flags"].startswith("clear")
    report = json.loads(run("data", "validate", path, "--json"))
    assert report["problems"] == 0
    assert "OK" in run("data", "validate", path)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    run("data", "synth", "-o", a, "--events", "5000", "--seed", "9", "--no-progress")
    run("data", "synth", "-o", b, "--events", "5000", "--seed", "9", "--no-progress")
    assert a.read_bytes() == b.read_bytes()


def test_validate_finds_and_repairs_backwards_time(tmp_path: Path) -> None:
    ev = generate_array(n_events=2_000).copy()
    ev["local_ts"][100] = ev["local_ts"][99] - 1_000_000
    bad = tmp_path / "bad.npy"
    write_events(bad, [ev], synthetic_instrument())
    out = run("data", "validate", bad, code=1)
    assert "problem" in out
    fixed = tmp_path / "fixed.npy"
    run("data", "validate", bad, "--repair", "-o", fixed)
    repaired = read_events(fixed)
    assert np.all(np.diff(repaired["local_ts"]) >= 0)
    assert repaired["flags"][100] & F_REPAIRED_TS
    assert read_meta(fixed).provenance["repaired_from"] == "bad.npy"
    assert json.loads(run("data", "validate", fixed, "--json"))["problems"] == 0
    run("data", "validate", bad, "--repair", code=2)  # --repair needs -o


def test_demo_runs_on_the_synthetic_market(tmp_path: Path) -> None:
    out = json.loads(run("demo", "--events", "20000", "--workdir", tmp_path, "--json"))
    assert out["summary"]["rows"] == 20_000
    assert out["validation"]["ok"]
    assert (tmp_path / "synusd.npy").is_file()


@pytest.mark.usefixtures("shared_data")
def test_convert_tardis_and_strict_mode(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "format-fixtures/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    out_path = tmp_path / "deribit.parquet"
    out = json.loads(run("data", "convert", "tardis", src, "-o", out_path, "--json"))
    assert out["rows"] == 16
    assert out["conversion"]["skipped_total"] == 0
    assert read_meta(out_path).provenance["inputs"][0]["name"] == src.name
    corrupt = tmp_path / "corrupt.csv"
    lines = src.read_text().splitlines()
    lines[3] = lines[3].replace(",ask,", ",sideways,")
    corrupt.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        main,
        ["data", "convert", "tardis", str(corrupt), "-o", str(tmp_path / "x.parquet"), "--strict"],
    )
    assert result.exit_code == 1
    assert f"{corrupt}:4" in result.output
    assert not (tmp_path / "x.parquet").exists()
    lenient = json.loads(
        run("data", "convert", "tardis", corrupt, "-o", tmp_path / "y.npy", "--json")
    )
    assert lenient["conversion"]["skipped_total"] == 1


@pytest.mark.usefixtures("shared_data")
def test_wrong_instrument_is_a_clear_error(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "format-fixtures/tardis/bitmex_trades_XBTUSD.csv"
    result = CliRunner().invoke(
        main,
        [
            "data",
            "convert",
            "tardis",
            str(src),
            "-o",
            str(tmp_path / "x.npy"),
            "--venue",
            "nowhere",
            "--symbol",
            "X",
        ],
    )
    assert result.exit_code == 2
    assert "--instrument" in result.output
    spec = (
        Path(__file__).resolve().parents[2] / "config/instruments/binance-futures-BTCUSDT-2020.json"
    )
    snap = shared_data / "format-fixtures/tardis/binance-futures_book_snapshot_5_BTCUSDT.csv"
    out = json.loads(
        run(
            "data",
            "convert",
            "tardis",
            snap,
            "-o",
            tmp_path / "s.npy",
            "--instrument",
            spec,
            "--json",
        )
    )
    assert out["conversion"]["skipped_total"] == 0


@pytest.mark.usefixtures("shared_data")
def test_convert_and_verify_binance_usdm(shared_data: Path, tmp_path: Path) -> None:
    raw = shared_data / "binance-l2-hftbacktest/usdm/ethusdt_20240808.gz"
    out_path = tmp_path / "eth.npy"
    out = json.loads(run("data", "convert", "binance", raw, "-o", out_path, "--json"))
    assert out["instrument"] == "binance-futures:ETHUSDT"
    assert out["conversion"]["gaps"] == 0
    assert out["conversion"]["skipped_total"] == 0
    assert out["validation"]["ok"]
    # The recorder's clock ran ~1.27 s behind Binance's: one shift, no per-row repairs.
    assert -1_300_000_000 < out["clock"]["input_min_latency_ns"] < -1_200_000_000
    assert out["clock"]["local_ts_shift_ns"] == -out["clock"]["input_min_latency_ns"]
    assert out["validation"]["repaired"]["rows"] == 0
    assert read_meta(out_path).rows == out["rows"]
    verified = json.loads(run("data", "verify", "binance", raw, "--json"))
    assert verified["compared"] == verified["matched"] == 551


@pytest.mark.usefixtures("shared_data")
def test_verify_lobster_and_bitstamp(shared_data: Path) -> None:
    lob = shared_data / "lobster-nasdaq-2012-06-21"
    aapl = json.loads(
        run(
            "data",
            "verify",
            "lobster",
            lob / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv",
            lob / "AAPL_2012-06-21_34200000_57600000_orderbook_10_first999.csv",
            "--json",
        )
    )
    assert aapl["compared"] == aapl["matched"] == 998
    orders = shared_data / "bitstamp-l3-2026/orders.csv.gz"
    trades = shared_data / "bitstamp-l3-2026/trades.csv"
    bitstamp = json.loads(run("data", "verify", "bitstamp", orders, trades, "--json"))
    assert bitstamp["ok"]
    assert bitstamp["maker_resting_at_fill"]["matched"] == 284
    assert bitstamp["ends_empty"]


@pytest.mark.usefixtures("shared_data")
def test_verify_without_a_snapshot_fails_with_the_reason(shared_data: Path) -> None:
    raw = shared_data / "binance-l2-hftbacktest/spot/ethusdt_20240809.gz"
    out = run("data", "verify", "binance", raw, "--no-progress", code=1)
    assert "no snapshot" in out
