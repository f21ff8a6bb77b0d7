"""`hft backtest` end to end through the real click application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hftlib.cli import main
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument
from hftlib.results.result import JSON_KEYS, BacktestResult


def run(*args: object, code: int = 0) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli_bt") / "syn.npy"
    events = generate_array(SynthParams(seed=5), 100_000)
    write_events(path, iter([events]), synthetic_instrument(), {"test": True})
    return path


def test_help_lists_the_models() -> None:
    out = run("backtest", "--help")
    for word in ("--strategy", "--latency", "risk_averse", "power3", "--json", "--out"):
        assert word in out


def test_json_and_report(data: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    text = run(
        "backtest",
        "-s",
        "quote_mm",
        "-d",
        data,
        "-p",
        "interval_ms=100",
        "-p",
        "qty=0.01",
        "--latency",
        "constant:1ms,2ms",
        "--queue",
        "log",
        "--json",
        "--out",
        out_dir,
    )
    result = json.loads(text.strip().splitlines()[-1])
    assert set(JSON_KEYS) <= set(result)
    assert result["events"] == 100_000
    assert result["fills"] > 0
    for name in ("report.html", "summary.txt", "fills.parquet", "records.parquet"):
        assert (out_dir / name).is_file(), name
    loaded = BacktestResult.load(out_dir)
    assert len(loaded.fills) == result["fills"]


def test_text_summary_for_a_replay(data: Path) -> None:
    out = run("backtest", "-d", data, "--no-progress")
    assert "100,000" in out


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("-s", "nope"), "unknown strategy 'nope'", 1),
        (("-s", "quote_mm", "-p", "interval_ms=soon"), "must be an integer", 1),
        (("-s", "quote_mm", "-p", "bogus=1"), "no parameter(s) bogus", 1),
        (("-s", "quote_mm", "-p", "novalue"), "is not NAME=VALUE", 2),
        (("--latency", "sometimes"), "bad latency spec", 1),
        (("--queue", "fastest"), "queue", 1),
        (("--fees", "cheap"), "MAKER,TAKER", 2),
        (("--record-interval", "often"), "duration", 1),
    ],
)
def test_bad_input_is_a_clean_error(
    data: Path, args: tuple[str, ...], message: str, code: int
) -> None:
    out = run("backtest", "-d", data, *args, code=code)
    assert message in out
    assert "Traceback" not in out
