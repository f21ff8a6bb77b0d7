"""Shared fixtures: the shared real-data folder and temp paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get(
        "HFTLIB_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``../shared/data``; skip without it, but fail under ``CI=true``."""
    if not (SHARED_DATA / "README.md").is_file():
        reason = (
            f"real market data not found at {SHARED_DATA} (set HFTLIB_SHARED_DATA or place "
            "the shared/ folder beside the repository)"
        )
        if _in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return SHARED_DATA
