"""``hft venue serve binance`` starts a server, prints its URLs and answers on them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
from click.testing import CliRunner
from venue_client import KEY, SECRET, SPOT, book_levels, write_market

from hftlib.cli.venue import venue

LAUNCH = "import sys; from hftlib.cli.venue import venue; venue(sys.argv[1:])"


def test_serve_binance_prints_urls_and_answers_ping(tmp_path: Path) -> None:
    bids, asks = book_levels(6_180_000)
    data = write_market(tmp_path / "spot.npy", SPOT, [("snapshot", bids, asks)])
    env = {**os.environ, "HFT_VENUE_API_KEY": KEY, "HFT_VENUE_API_SECRET": SECRET}
    cmd = [sys.executable, "-c", LAUNCH, "serve", "binance", "--data", str(data), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.stdout is not None:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("replaying"):
                break
        urls = dict(line.split(None, 1) for line in lines if line[:1].isalpha() and " " in line)
        rest = urls["REST"].strip()
        assert rest.startswith("http://127.0.0.1:")
        assert urls["WS"].strip().endswith("/ws-api/v3")  # "WS API ws://..."
        with urllib.request.urlopen(f"{rest}/api/v3/ping", timeout=5) as r:  # noqa: S310
            assert orjson.loads(r.read()) == {}
        with urllib.request.urlopen(f"{rest}/api/v3/depth?symbol=BTCUSDT&limit=1", timeout=5) as r:  # noqa: S310
            assert orjson.loads(r.read())["bids"] == [["61800.00000000", "0.00001000"]]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
        assert "stopped" in out
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_binance_help_and_bad_balance(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(venue, ["serve", "binance", "--help"])
    assert result.exit_code == 0
    assert "--speed" in result.output
    bids, asks = book_levels(6_180_000)
    data = write_market(tmp_path / "spot.npy", SPOT, [("snapshot", bids, asks)])
    env = {"HFT_VENUE_API_KEY": KEY, "HFT_VENUE_API_SECRET": SECRET}
    bad = runner.invoke(
        venue, ["serve", "binance", "--data", str(data), "--balance", "USDT"], env=env
    )
    assert bad.exit_code == 2
    assert "ASSET=AMOUNT" in bad.output
