"""Fixtures of the paper/live tests: a synthetic recording and a synthetic instrument."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument
from hftlib.instrument import Instrument

SYN_EVENTS = 60_000
MM = {"order_qty": 0.01, "max_position": 0.05, "warmup_s": 2.0, "gamma": 0.05}
"""Market maker parameters that quote and fill within a few seconds of synthetic data."""


@pytest.fixture(scope="session")
def syn_events() -> np.ndarray:
    """About 12 s of the synthetic market (seed 3)."""
    return generate_array(SynthParams(seed=3), SYN_EVENTS)


@pytest.fixture(scope="session")
def syn_file(syn_events: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic market written as an event file."""
    path = tmp_path_factory.mktemp("live") / "syn.npy"
    write_events(path, iter([syn_events]), synthetic_instrument(), {"test": "live"})
    return path


@pytest.fixture(scope="session")
def syn_instrument() -> Instrument:
    return synthetic_instrument()
