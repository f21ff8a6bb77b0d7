"""Notebooks are jupytext .py files; each runs top to bottom here on tiny generated data."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(notebook), run_name="__main__")
    assert os.listdir(tmp_path), "the notebook should have written its data under its cwd"
    if notebook.stem == "data_quickstart":
        assert namespace["report"].ok
        assert namespace["meta"].rows == 50_000
        assert len(namespace["trades"]) > 0
    if notebook.stem == "backtest_quickstart":
        assert len(namespace["fills"]) > 0
        assert (tmp_path / "report" / "report.html").is_file()
        assert namespace["mine"].info["orders_submitted"] > 0
        assert abs(namespace["own_fills"]["position"]).max() <= 50  # the risk cap held


def test_there_is_a_notebook() -> None:
    assert NOTEBOOKS
