"""Pure model arithmetic shared by the shipped strategies (no context, no side effects).

Small ``@njit(cache=True)`` functions over floats and numpy arrays, so that each formula
is tested on its own against hand-computed values (``tests/unit/test_strategy_models.py``)
and through ``.py_func``. The leading underscore marks this module as a library, not a
strategy type.

Units: depths are in ticks from the mid, volatility in ticks per square-root second,
intensities in events per second, the decay ``k`` per tick and the risk aversion ``gamma``
per tick (inventory counted in order sizes).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

K_MIN = 1e-4
"""Smallest intensity decay accepted from a fit, per tick (a nearly flat profile)."""
K_MAX = 20.0
"""Largest intensity decay accepted from a fit, per tick (trades only at the touch)."""
A_MIN = 1e-6
"""Smallest arrival intensity accepted from a fit, per second."""
A_MAX = 1e6
"""Largest arrival intensity accepted from a fit, per second."""
MIN_FIT_BUCKETS = 3
"""Fewest depth buckets with trades a fit needs (two points always fit a line exactly)."""


# --- exponentially weighted averages ----------------------------------------------------------
@njit(cache=True)
def ewma_alpha(dt_s: float, window_s: float) -> float:
    """Return the weight of a new sample for an EWMA with time constant ``window_s``.

    ``1 - exp(-dt / window)``: after ``window_s`` seconds of samples an old value keeps
    ``1/e`` of its weight, whatever the sampling interval ``dt_s``.
    """
    return 1.0 - math.exp(-dt_s / window_s)


@njit(cache=True)
def half_life_alpha(dt_s: float, half_life_s: float) -> float:
    """Return the weight of a new sample for an EWMA whose old values halve every half-life."""
    return float(1.0 - 0.5 ** (dt_s / half_life_s))


@njit(cache=True)
def ewma_update(value: float, weight: float, x: float, alpha: float) -> tuple[float, float]:
    """Fold sample ``x`` into an EWMA; return the new ``(value, weight)``.

    Both start at 0. ``value / weight`` is the bias-corrected average: exact for the
    first sample, then the usual EWMA once ``weight`` approaches 1.
    """
    return (1.0 - alpha) * value + alpha * x, (1.0 - alpha) * weight + alpha


@njit(cache=True)
def ewma_vol(var_value: float, weight: float, dt_s: float) -> float:
    """Return the volatility per square-root second from an EWMA of squared changes.

    ``var_value / weight`` is the mean squared change over ``dt_s`` seconds (the mean change
    is taken as zero, as usual at high frequency); NaN before the first sample.
    """
    if weight <= 0.0 or dt_s <= 0.0:
        return math.nan
    return math.sqrt(var_value / weight / dt_s)


# --- optimal quotes ---------------------------------------------------------------------------
@njit(cache=True)
def glft_coefficients(gamma: float, a: float, k: float) -> tuple[float, float]:
    """Return GLFT's ``(c1, c2)`` for one order size of inventory (Delta = 1, xi = gamma).

    ``c1 = ln(1 + gamma / k) / gamma`` and
    ``c2 = sqrt(gamma / (2 A k) * (1 + gamma / k) ** (k / gamma + 1))``, the constants of
    the closed-form approximation of Guéant, Lehalle and Fernandez-Tapia (2013, "Dealing with
    the inventory risk") in the notation of Guéant (2017, "Optimal market making").
    """
    ratio = gamma / k
    c1 = math.log1p(ratio) / gamma
    c2 = math.sqrt(gamma / (2.0 * a * k) * (1.0 + ratio) ** (k / gamma + 1.0))
    return c1, c2


@njit(cache=True)
def glft_depths(
    gamma: float, sigma: float, a: float, k: float, q: float, skew: float
) -> tuple[float, float]:
    """Return the GLFT ``(bid_depth, ask_depth)`` in ticks from the mid.

    ``half = c1 + sigma * c2 / 2`` and the inventory term ``skew * sigma * c2 * q`` widens
    the side that would add to the inventory ``q`` (in order sizes) and tightens the other:
    ``bid = half + skew * sigma * c2 * q``, ``ask = half - skew * sigma * c2 * q``.
    """
    c1, c2 = glft_coefficients(gamma, a, k)
    half = c1 + 0.5 * sigma * c2
    tilt = skew * sigma * c2 * q
    return half + tilt, half - tilt


@njit(cache=True)
def as_depths(
    gamma: float, sigma: float, k: float, horizon_s: float, q: float, skew: float
) -> tuple[float, float]:
    """Return the Avellaneda–Stoikov ``(bid_depth, ask_depth)`` in ticks from the mid.

    Reservation price ``r = mid - q * gamma * sigma^2 * tau`` and total spread
    ``gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / k)`` around it (Avellaneda and
    Stoikov 2008), with a rolling horizon ``tau = horizon_s``; ``skew`` scales the
    inventory term.
    """
    risk = gamma * sigma * sigma * horizon_s
    half = 0.5 * risk + math.log1p(gamma / k) / gamma
    tilt = skew * risk * q
    return half + tilt, half - tilt


# --- trade-arrival intensity --------------------------------------------------------------------
@njit(cache=True)
def intensity_push(ring: np.ndarray, counts: np.ndarray, pos: int, depth: int) -> None:
    """Replace the interval at ``ring[pos]`` with ``depth`` and keep ``counts`` in step.

    ``ring`` holds, per sampling interval, the deepest distance from the mid that a trade
    reached (in buckets; -1: no trade). ``counts[j]`` is the number of intervals in the
    ring whose depth is at least ``j``, so a quote ``j`` buckets deep would have been
    reached ``counts[j]`` times. Depths beyond the last bucket count in every bucket.
    """
    last = counts.shape[0] - 1
    old = ring[pos]
    if old >= 0:
        for j in range(min(old, last) + 1):
            counts[j] -= 1
    ring[pos] = depth
    if depth >= 0:
        for j in range(min(depth, last) + 1):
            counts[j] += 1


@njit(cache=True)
def fit_intensity(counts: np.ndarray, step: float, exposure_s: float) -> tuple[float, float, bool]:
    """Fit ``lambda(delta) = A * exp(-k * delta)`` to depth counts; return ``(A, k, ok)``.

    ``counts[j]`` is how often a trade reached depth ``j * step`` ticks during
    ``exposure_s`` seconds of observation, so ``lambda_j = counts[j] / exposure_s``. The
    fit is a least-squares line through ``(delta_j, ln lambda_j)`` weighted by ``counts[j]``
    (the inverse variance of a Poisson count's logarithm), over the buckets with a count.
    It fails (``ok`` False) with fewer than :data:`MIN_FIT_BUCKETS` such buckets or a
    profile that does not decay; ``k`` and ``A`` are clamped to ``[K_MIN, K_MAX]`` and
    ``[A_MIN, A_MAX]``.
    """
    sw = 0.0
    sx = 0.0
    sy = 0.0
    n = 0
    for j in range(counts.shape[0]):
        c = counts[j]
        if c <= 0:
            continue
        w = float(c)
        sw += w
        sx += w * j * step
        sy += w * math.log(c / exposure_s)
        n += 1
    if n < MIN_FIT_BUCKETS or exposure_s <= 0.0:
        return math.nan, math.nan, False
    mx = sx / sw
    my = sy / sw
    sxx = 0.0
    sxy = 0.0
    for j in range(counts.shape[0]):
        c = counts[j]
        if c <= 0:
            continue
        dx = j * step - mx
        sxx += c * dx * dx
        sxy += c * dx * (math.log(c / exposure_s) - my)
    if sxx <= 0.0:
        return math.nan, math.nan, False
    k = -sxy / sxx
    if not k > 0.0:
        return math.nan, math.nan, False
    a = math.exp(my + k * mx)
    return min(max(a, A_MIN), A_MAX), min(max(k, K_MIN), K_MAX), True
