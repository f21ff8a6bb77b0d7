"""Callbacks that do nothing: the defaults for any a strategy does not define.

A strategy of only these (``strategy=None``) is a pure market replay.
"""

from __future__ import annotations

from typing import Any

from numba import njit

from hftlib.engine.context import Ctx


@njit(cache=True)
def on_start(ctx: Ctx, state: Any) -> None:
    """Do nothing at the first event."""


@njit(cache=True)
def on_book(ctx: Ctx, state: Any, asset: int) -> None:
    """Do nothing on a book change."""


@njit(cache=True)
def on_trade(ctx: Ctx, state: Any, asset: int) -> None:
    """Do nothing on a public trade."""


@njit(cache=True)
def on_order(ctx: Ctx, state: Any, slot: int) -> None:
    """Do nothing on an order report."""


@njit(cache=True)
def on_timer(ctx: Ctx, state: Any, timer_id: int) -> None:
    """Do nothing when a timer fires."""


@njit(cache=True)
def on_end(ctx: Ctx, state: Any) -> None:
    """Do nothing after the last event."""
