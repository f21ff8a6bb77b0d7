"""Draw a sweep heatmap: one metric over two parameters (matplotlib, no window, no pyplot)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hftlib.sweep.grid import format_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_ANNOTATED = 400
"""Cells beyond this count are drawn without their values (the text would not fit)."""


def heatmap_figure(
    cells: Sequence[Sequence[float]],
    xs: Sequence[Any],
    ys: Sequence[Any],
    x: str,
    y: str,
    metric: str,
    title: str,
    failed: Sequence[Sequence[bool]] | None = None,
) -> Figure:
    """Return a Figure of ``cells[row][col]`` (``ys`` by ``xs``), NaN cells left blank.

    Cells are labelled with their value, ``n/a`` (no value, e.g. an undefined Sharpe) or
    ``error`` where ``failed`` is true, when there are few enough to read.

    A metric that takes both signs gets a diverging colour map centred on zero, so losses
    and gains read at a glance; otherwise a sequential one.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    data = np.array(cells, dtype=np.float64).reshape(len(ys), len(xs))
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if lo < 0.0 < hi:
        norm: Any = TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi)
        cmap = "RdYlGn"
    else:
        norm, cmap = None, "viridis"
    width = min(14.0, 3.0 + 0.9 * len(xs))
    height = min(12.0, 2.5 + 0.6 * len(ys))
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.subplots()
    image = ax.imshow(
        np.ma.masked_invalid(data), origin="lower", aspect="auto", cmap=cmap, norm=norm
    )
    rotate = len(xs) > 6  # long rows of labels overlap when written flat
    ax.set_xticks(
        range(len(xs)),
        [format_value(v) for v in xs],
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
    )
    ax.set_yticks(range(len(ys)), [format_value(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title, fontsize="medium")
    fig.colorbar(image, ax=ax, label=metric)
    if data.size <= MAX_ANNOTATED:
        for (row, col), value in np.ndenumerate(data):
            if failed is not None and failed[row][col]:
                text, color = "error", "black"
            elif math.isnan(value):
                text, color = "n/a", "black"
            else:
                r, g, b, _ = image.to_rgba(np.array([value]))[0]
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                text, color = f"{value:.4g}", "white" if dark else "black"
            ax.text(col, row, text, ha="center", va="center", fontsize="small", color=color)
    fig.tight_layout()
    return fig
