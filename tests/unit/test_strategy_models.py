"""The strategies' pure arithmetic against hand-computed values, compiled and as Python."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hftlib.strategies import _models as M
from hftlib.strategies.arbitrage import edge_bps
from hftlib.strategies.grid import level_price, spacing_for


@pytest.fixture(params=["py", "nb"])
def impl(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    """Pick a kernel's plain-Python body (``py``) or its compiled form (``nb``)."""
    return (lambda fn: fn.py_func) if request.param == "py" else (lambda fn: fn)


# --- EWMA and volatility ----------------------------------------------------------------------
def test_ewma_alpha_is_one_minus_exp_of_the_window_fraction(impl: Callable[[Any], Any]) -> None:
    assert impl(M.ewma_alpha)(0.1, 60.0) == pytest.approx(0.0016652785490612887, rel=1e-12)
    assert impl(M.ewma_alpha)(60.0, 60.0) == pytest.approx(1.0 - 1.0 / math.e)


def test_half_life_alpha_halves_old_weight(impl: Callable[[Any], Any]) -> None:
    assert impl(M.half_life_alpha)(1.0, 1.0) == pytest.approx(0.5)
    assert impl(M.half_life_alpha)(2.0, 1.0) == pytest.approx(0.75)
    assert impl(M.half_life_alpha)(0.5, 1.0) == pytest.approx(1.0 - 2**-0.5)


def test_ewma_update_is_bias_corrected_by_its_weight(impl: Callable[[Any], Any]) -> None:
    update = impl(M.ewma_update)
    value, weight = update(0.0, 0.0, 4.0, 0.5)
    assert (value, weight) == (2.0, 0.5)
    assert value / weight == 4.0  # the first sample is the average
    value, weight = update(value, weight, 0.0, 0.5)
    # 4 now weighs 0.25 and 0 weighs 0.5: (0.25 * 4 + 0.5 * 0) / 0.75
    assert (value, weight) == (1.0, 0.75)
    assert value / weight == pytest.approx(4.0 / 3.0)


def test_ewma_vol_scales_the_mean_square_to_one_second(impl: Callable[[Any], Any]) -> None:
    assert impl(M.ewma_vol)(9.0, 1.0, 0.25) == pytest.approx(6.0)  # sqrt(9 / 0.25)
    assert impl(M.ewma_vol)(4.5, 0.5, 0.25) == pytest.approx(6.0)
    assert math.isnan(impl(M.ewma_vol)(1.0, 0.0, 0.1))


def test_ewma_vol_recovers_a_random_walks_volatility(impl: Callable[[Any], Any]) -> None:
    rng = np.random.default_rng(7)
    dt, sigma = 0.1, 40.0  # ticks per sqrt(second)
    alpha = M.ewma_alpha(dt, 60.0)
    value = weight = 0.0
    for step in rng.normal(0.0, sigma * math.sqrt(dt), 6000):
        value, weight = impl(M.ewma_update)(value, weight, step * step, alpha)
    assert impl(M.ewma_vol)(value, weight, dt) == pytest.approx(sigma, rel=0.1)


# --- GLFT and Avellaneda-Stoikov --------------------------------------------------------------
def test_glft_coefficients_by_hand(impl: Callable[[Any], Any]) -> None:
    # gamma 0.1, A 2, k 1: c1 = ln(1.1) / 0.1, c2 = sqrt(0.1 / (2 * 2 * 1) * 1.1 ** 11)
    c1, c2 = impl(M.glft_coefficients)(0.1, 2.0, 1.0)
    assert c1 == pytest.approx(0.9531017980432493, rel=1e-12)
    assert c2 == pytest.approx(0.26707286955576387, rel=1e-12)


def test_glft_c1_tends_to_one_over_k_for_small_gamma(impl: Callable[[Any], Any]) -> None:
    c1, _ = impl(M.glft_coefficients)(1e-9, 5.0, 2.0)
    assert c1 == pytest.approx(0.5, rel=1e-6)


def test_glft_depths_by_hand(impl: Callable[[Any], Any]) -> None:
    depths = impl(M.glft_depths)
    # half = c1 + sigma * c2 / 2 = 1.3537111..., skew term sigma * c2 * q = 3 * c2 * 2
    bid, ask = depths(0.1, 3.0, 2.0, 1.0, 0.0, 1.0)
    assert bid == ask == pytest.approx(1.353711102376895, rel=1e-12)
    bid, ask = depths(0.1, 3.0, 2.0, 1.0, 2.0, 1.0)
    assert bid == pytest.approx(2.9561483197114784, rel=1e-12)
    assert ask == pytest.approx(-0.24872611495768826, rel=1e-12)
    bid, ask = depths(0.1, 3.0, 2.0, 1.0, -2.0, 1.0)  # a short inventory mirrors it
    assert (bid, ask) == pytest.approx((-0.24872611495768826, 2.9561483197114784))
    bid, ask = depths(0.1, 3.0, 2.0, 1.0, 2.0, 0.0)  # skew 0: no inventory term
    assert bid == ask == pytest.approx(1.353711102376895)


def test_as_depths_by_hand(impl: Callable[[Any], Any]) -> None:
    # gamma 0.1, sigma 2, k 1, tau 0.5: gamma sigma^2 tau = 0.2,
    # half spread 0.1 + ln(1.1) / 0.1, reservation price mid - q * 0.2
    bid, ask = impl(M.as_depths)(0.1, 2.0, 1.0, 0.5, 1.0, 1.0)
    assert bid == pytest.approx(1.2531017980432493, rel=1e-12)
    assert ask == pytest.approx(0.8531017980432494, rel=1e-12)
    assert bid + ask == pytest.approx(0.2 + 2.0 / 0.1 * math.log(1.1))  # AS total spread
    bid, ask = impl(M.as_depths)(0.1, 2.0, 1.0, 0.5, 1.0, 0.5)
    assert (bid - ask) / 2 == pytest.approx(0.1)  # half the skew


# --- trade intensity --------------------------------------------------------------------------
def test_intensity_push_keeps_counts_of_depths_reached(impl: Callable[[Any], Any]) -> None:
    push = impl(M.intensity_push)
    ring = np.full(3, -1, dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)  # buckets 0..3
    push(ring, counts, 0, 2)
    assert counts.tolist() == [1, 1, 1, 0]
    push(ring, counts, 1, 9)  # beyond the last bucket: counts in every bucket
    assert counts.tolist() == [2, 2, 2, 1]
    push(ring, counts, 2, -1)  # an interval without trades
    assert counts.tolist() == [2, 2, 2, 1]
    push(ring, counts, 0, 0)  # the ring wrapped: the depth-2 interval leaves
    assert counts.tolist() == [2, 1, 1, 1]
    assert ring.tolist() == [0, 9, -1]


def test_fit_intensity_recovers_an_exact_exponential(impl: Callable[[Any], Any]) -> None:
    counts = np.array([800, 400, 200, 100, 50, 0, 0], dtype=np.int64)
    a, k, ok = impl(M.fit_intensity)(counts, 0.5, 100.0)
    assert ok
    assert k == pytest.approx(math.log(2.0) / 0.5, rel=1e-9)  # halves every half tick
    assert a == pytest.approx(8.0, rel=1e-9)  # 800 arrivals in 100 s at depth 0


def test_fit_intensity_weights_buckets_by_their_counts(impl: Callable[[Any], Any]) -> None:
    # a noisy last bucket moves the weighted fit less than an unweighted one
    counts = np.array([1000, 370, 135, 1], dtype=np.int64)
    _, k, ok = impl(M.fit_intensity)(counts, 1.0, 10.0)
    x = np.arange(4.0)
    slope_unweighted = -np.polyfit(x, np.log(counts / 10.0), 1)[0]
    assert ok
    assert abs(k - 1.0) < abs(slope_unweighted - 1.0)
    assert k == pytest.approx(1.0, abs=0.02)  # the unweighted slope is 2.17


@pytest.mark.parametrize(
    "counts",
    [[], [0, 0, 0], [5, 3, 0, 0], [5, 5, 5], [0, 4, 0]],
    ids=["empty", "no-trades", "two-buckets", "flat", "one-bucket"],
)
def test_fit_intensity_refuses_thin_or_flat_data(
    impl: Callable[[Any], Any], counts: list[int]
) -> None:
    a, k, ok = impl(M.fit_intensity)(np.array(counts, dtype=np.int64), 0.5, 60.0)
    assert not ok
    assert math.isnan(a)
    assert math.isnan(k)


def test_fit_intensity_clamps_to_its_bounds(impl: Callable[[Any], Any]) -> None:
    steep = np.array([10**12, 10**6, 1], dtype=np.int64)  # k = ln(1e6) / 0.5 = 27.6
    a, k, ok = impl(M.fit_intensity)(steep, 0.5, 1.0)
    assert ok
    assert k == M.K_MAX
    assert a == M.A_MAX
    shallow = np.array([100_000, 100_000, 99_999], dtype=np.int64)  # k about 1e-5
    _, k, ok = impl(M.fit_intensity)(shallow, 0.5, 1.0)
    assert ok
    assert k == M.K_MIN


# --- arbitrage edge and grid levels -----------------------------------------------------------
def test_edge_bps_by_hand(impl: Callable[[Any], Any]) -> None:
    gross, net = impl(edge_bps)(100.05, 100.00, 0.001, 0.0005, 1.0)
    assert gross == pytest.approx(4.998750312421895, rel=1e-12)  # 0.05 / 100.025
    # (100.05 * 0.999 - 100 * 1.0005) / 100.025, minus 1 bp of buffer
    assert net == pytest.approx(-11.002499375155807, rel=1e-12)
    gross, net = impl(edge_bps)(100.05, 100.00, 0.0, 0.0, 0.0)
    assert net == pytest.approx(gross)


def test_grid_spacing_and_levels(impl: Callable[[Any], Any]) -> None:
    assert impl(spacing_for)(616_750, 3, 2.0) == 3  # fixed ticks win
    assert impl(spacing_for)(616_750, 0, 2.0) == 123  # 2 bps of 61,675.0 at tick 0.1
    assert impl(spacing_for)(100, 0, 2.0) == 1  # never below one tick
    assert impl(level_price)(1000, 5, 0, 0) == 995
    assert impl(level_price)(1000, 5, 0, 2) == 985
    assert impl(level_price)(1000, 5, 1, 1) == 1010
