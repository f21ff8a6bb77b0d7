"""Queue-position models for resting orders of the simulated venue (numba kernels).

The venue keeps one float64 state row per resting order (``QUEUE_STATE_SIZE`` columns,
usually a 2-D ``qstate[slot]`` table) and drives it with four calls that mirror
hftbacktest 2.4.4's ``QueueModel`` (``hftbacktest/src/backtest/models/queue.rs``):

- :func:`queue_on_arrival` when the venue accepts (or re-queues after a modify) an order:
  everything resting at its price is ahead of it.
- :func:`queue_on_depth` when the recorded level size at the order's price changes
  (``prev_qty`` -> ``new_qty``; our own orders are never in the recorded sizes).
- :func:`queue_on_trade` for a public trade at exactly the order's price. It advances the
  queue, then returns how many lots fill now (0 if none), and resets the queue state after a
  fill the way hftbacktest does. Trades *through* the price and a best price moving through
  the order fill it completely and are the venue's job, not this module's.
- :func:`fifo_on_change` for exact FIFO on L3 data: the venue calls it with the size change of
  a market order that is ahead of ours.

Units are lots (hftlib stores sizes as int64 lots, so hftbacktest's ``lot_size`` is 1 here).

Models (``model`` id, parameter ``n``)
--------------------------------------
State: ``ahead`` (hftbacktest's ``front_q_qty``) and ``cum_trade`` (trades at the price since
the last depth change).

- On arrival: ``ahead = level_qty``, ``cum_trade = 0`` (every model).
- On a trade of ``t`` lots at the price: ``ahead -= t``; ``cum_trade += t`` (every model).
- Fill test after the trade: ``x = round_half_away(-ahead)``; if ``x > 0`` the order fills and
  ``ahead = 0``. Without partial fills the whole ``leaves`` fills; with partial fills
  ``min(x, leaves)`` fills. So a fill needs the trades to overshoot the queue by at least
  half a lot, and the overshoot beyond what fills is forgotten. The partial fill is *not*
  capped by the trade size ``t``: when a probability model's depth step already pushed
  ``ahead`` below zero, a 1-lot trade can fill more than 1 lot (hftbacktest 2.4.4 does
  this; checked against it). Under ``QM_RISK_AVERSE`` and ``QM_L3_FIFO`` with whole-lot
  sizes ``ahead`` is never negative before a trade, so there a fill is at most ``t``.
- ``QM_RISK_AVERSE`` on a depth change: ``ahead = min(ahead, new_qty)`` (the queue only
  advances by trades, or when the level shrinks below it).
- Probability models on a depth change, with ``chg = prev_qty - new_qty - cum_trade`` and
  ``cum_trade`` reset to 0:

  * ``chg < 0`` (the level grew beyond what trades took): ``ahead = min(ahead, new_qty)``;
  * else ``front = ahead``, ``back = prev_qty - front``, ``p = prob(front, back)`` (``p = 1``
    if infinite; NaN stays NaN as in hftbacktest), then
    ``ahead = min(front - (1 - p) * chg + min(back - p * chg, 0), new_qty)``:
    a decrease is split between the queue behind (share ``p``) and ahead (``1 - p``), and
    whatever exceeds the queue behind also comes from ahead.

  ``prob`` is, with ``f`` as named:

  * ``QM_POWER`` (``f(x) = x**n``): ``f(back) / (f(back) + f(front))``
  * ``QM_POWER2`` (``f(x) = x**n``): ``f(back) / f(back + front)``
  * ``QM_POWER3`` (``f(x) = x**n``): ``1 - f(front / (front + back))``
  * ``QM_LOG`` (``f(x) = ln(1 + x)``): ``f(back) / (f(back) + f(front))``
  * ``QM_LOG2`` (``f(x) = ln(1 + x)``): ``f(back) / f(back + front)``

- ``QM_L3_FIFO``: exact FIFO on order-by-order data. Arrival and trades behave as
  risk-averse; a depth change keeps ``min(ahead, new_qty)`` (a queue can never be longer than
  its level), and the venue applies each change of an order ahead of ours through
  :func:`fifo_on_change`.

``ahead`` can be negative: a probability model's depth step may estimate that more left the
queue than stood ahead (hftbacktest allows it), and a trade step leaves it negative when the
overshoot is under half a lot. It is never above ``new_qty`` after a depth change.
"""

from __future__ import annotations

import math

import numpy as np

from hftlib.jit import nrt_free, nrt_free_inline

QM_RISK_AVERSE = 0
QM_POWER = 1
QM_POWER2 = 2
QM_POWER3 = 3
QM_LOG = 4
QM_LOG2 = 5
QM_L3_FIFO = 6

QUEUE_MODEL_NAMES: dict[str, int] = {
    "risk_averse": QM_RISK_AVERSE,
    "power": QM_POWER,
    "power2": QM_POWER2,
    "power3": QM_POWER3,
    "log": QM_LOG,
    "log2": QM_LOG2,
    "l3_fifo": QM_L3_FIFO,
}
"""Spec names accepted by :func:`parse_queue_model`, with their model ids."""

_NEEDS_N = (QM_POWER, QM_POWER2, QM_POWER3)
_DEFAULT_N = 3.0

QS_AHEAD = 0
"""Column of the queue ahead of the order, in lots (hftbacktest's ``front_q_qty``)."""
QS_CUM_TRADE = 1
"""Column of the lots traded at the order's price since the last depth change."""
QUEUE_STATE_SIZE = 2


def parse_queue_model(spec: str) -> tuple[int, float]:
    """Parse a queue-model spec such as ``"power:3"`` into ``(model id, n)``.

    Parameters
    ----------
    spec : str
        ``name`` or ``name:n``. Names: ``risk_averse``, ``power``, ``power2``, ``power3``
        (``n`` defaults to 3), ``log``, ``log2``, ``l3_fifo`` (these take no ``n``).

    Returns
    -------
    tuple[int, float]
        The ``QM_*`` id and the model parameter (0.0 for models without one).

    Raises
    ------
    ValueError
        On an unknown name, a parameter that is not a finite positive number, or a
        parameter given to a model without one.
    """
    valid = ", ".join(
        f"{name}:N" if QUEUE_MODEL_NAMES[name] in _NEEDS_N else name for name in QUEUE_MODEL_NAMES
    )
    name, sep, arg = spec.strip().lower().partition(":")
    model = QUEUE_MODEL_NAMES.get(name.strip())
    if model is None:
        raise ValueError(f"unknown queue model {spec!r}; valid: {valid}")
    if model not in _NEEDS_N:
        if sep:
            raise ValueError(f"queue model {name!r} takes no parameter, got {spec!r}")
        return model, 0.0
    if not sep:
        return model, _DEFAULT_N
    try:
        n = float(arg)
    except ValueError:
        raise ValueError(f"queue model {spec!r}: parameter {arg!r} is not a number") from None
    if not (math.isfinite(n) and n > 0.0):
        raise ValueError(f"queue model {spec!r}: parameter must be a finite number > 0")
    return model, n


@nrt_free_inline
def _round_half_away(x: float) -> float:
    """Round like Rust's ``f64::round`` (halves away from zero), exactly."""
    r = float(math.floor(x))
    if x - r >= 0.5:
        r += 1.0
    return r


@nrt_free_inline
def _powf(x: float, n: float) -> float:
    """``x ** n`` as Rust's ``powf``: NaN (not complex, not an error) for ``x < 0``, odd ``n``."""
    if x < 0.0 and n != math.floor(n):
        return math.nan
    return math.pow(x, n)


@nrt_free_inline
def _ln1(x: float) -> float:
    """``ln(1 + x)`` as hftbacktest computes it: -inf at -1 and NaN below, never an error."""
    y = 1.0 + x
    if y > 0.0:
        return math.log(y)
    return -math.inf if y == 0.0 else math.nan


@nrt_free_inline
def _div(a: float, b: float) -> float:
    """IEEE division (inf or NaN on a zero divisor) in compiled and plain Python alike."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.inf if (a > 0.0) == (math.copysign(1.0, b) > 0.0) else -math.inf


@nrt_free
def queue_prob(model: int, n: float, front: float, back: float) -> float:
    """Return the share of a level decrease taken from behind the order (see module doc)."""
    if model == QM_POWER:
        fb = _powf(back, n)
        return _div(fb, fb + _powf(front, n))
    if model == QM_POWER2:
        return _div(_powf(back, n), _powf(back + front, n))
    if model == QM_POWER3:
        return 1.0 - _powf(_div(front, front + back), n)
    if model == QM_LOG:
        fb = _ln1(back)
        return _div(fb, fb + _ln1(front))
    if model == QM_LOG2:
        return _div(_ln1(back), _ln1(back + front))
    return 0.0


@nrt_free
def queue_on_arrival(model: int, q: np.ndarray, level_qty: float) -> None:
    """Initialise an order's state row: all of ``level_qty`` (our orders excluded) is ahead."""
    q[QS_AHEAD] = level_qty
    q[QS_CUM_TRADE] = 0.0


@nrt_free
def queue_on_depth(model: int, n: float, q: np.ndarray, prev_qty: float, new_qty: float) -> None:
    """Update an order's state row for a level-size change at its price."""
    if model == QM_RISK_AVERSE or model == QM_L3_FIFO:
        q[QS_AHEAD] = min(q[QS_AHEAD], new_qty)
        return
    chg = prev_qty - new_qty - q[QS_CUM_TRADE]
    q[QS_CUM_TRADE] = 0.0
    front = q[QS_AHEAD]
    if chg < 0.0:
        q[QS_AHEAD] = min(front, new_qty)
        return
    back = prev_qty - front
    prob = queue_prob(model, n, front, back)
    if math.isinf(prob):
        prob = 1.0
    est = front - (1.0 - prob) * chg + min(back - prob * chg, 0.0)
    # Rust's f64::min returns the other operand when one is NaN; keep that behaviour.
    if math.isnan(est):
        q[QS_AHEAD] = new_qty
    else:
        q[QS_AHEAD] = min(est, new_qty)


@nrt_free
def queue_on_trade(
    model: int, q: np.ndarray, trade_qty: float, leaves: float, partial: bool
) -> float:
    """Apply a public trade at the order's price; return the lots that fill now (0 if none)."""
    q[QS_AHEAD] -= trade_qty
    q[QS_CUM_TRADE] += trade_qty
    return queue_filled_qty(q, leaves, partial)


@nrt_free
def queue_filled_qty(q: np.ndarray, leaves: float, partial: bool) -> float:
    """Return the lots that fill after a trade step, resetting ``ahead`` to 0 on a fill.

    The overshoot is ``x = round_half_away(-ahead)``. No fill while ``x <= 0``; otherwise
    all ``leaves`` without partial fills, ``min(x, leaves)`` with them.
    """
    x = _round_half_away(-q[QS_AHEAD])
    if not x > 0.0:
        return 0.0
    q[QS_AHEAD] = 0.0
    if not partial:
        return leaves
    return min(x, leaves)


@nrt_free
def fifo_on_change(ahead: float, delta: float) -> float:
    """Return the FIFO queue ahead after an order ahead of ours changed by ``delta`` lots.

    ``delta`` is negative when such an order is cancelled, reduced or filled; exact FIFO
    never lets the queue ahead fall below zero.
    """
    return max(ahead + delta, 0.0)
