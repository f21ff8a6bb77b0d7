"""Fixtures for the local Binance venue tests (helpers live in venue_client.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hftlib.convert.base import ConvertReport
from hftlib.convert.binance_ws import convert
from hftlib.data.storage import write_events
from hftlib.instrument import lookup_instrument


@pytest.fixture(scope="session")
def recorded(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Return ``convert(name)``: a shared Binance capture converted to an event file (cached)."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            src = shared_data / "binance-l2-hftbacktest" / name
            market, sym = name.split("/")[0], name.split("/")[1].split("_")[0].upper()
            inst = lookup_instrument("binance" if market == "spot" else "binance-futures", sym)
            report = ConvertReport("binance", [str(src)])
            out = tmp_path_factory.mktemp("recorded") / f"{market}_{sym}.npy"
            write_events(
                out, convert([src], inst, report, chunk_rows=1 << 16), inst, {"source": name}
            )
            cache[name] = out
        return cache[name]

    return get
