"""Reconnect backoff: doubling from 1 s, capped at 60 s, jitter only shortens, seeded."""

from __future__ import annotations

import random

import pytest

from hftlib.venue.backoff import Backoff


def test_nominal_delays_double_and_cap_at_60s() -> None:
    backoff = Backoff(jitter=0.0)
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]
    assert backoff.attempt == 10


def test_jitter_stays_within_its_fraction_below_the_nominal_delay() -> None:
    backoff = Backoff(jitter=0.2, rng=random.Random(7))
    for attempt in range(40):
        nominal = backoff.nominal(attempt)
        delay = backoff.next_delay()
        assert 0.8 * nominal <= delay <= nominal <= 60.0


def test_seeded_rng_gives_the_same_delays_and_different_seeds_differ() -> None:
    def run(seed: int) -> list[float]:
        backoff = Backoff(rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(8)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_reset_starts_again_at_the_base() -> None:
    backoff = Backoff(jitter=0.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_many_attempts_do_not_overflow() -> None:
    assert Backoff(jitter=0.0).nominal(10_000) == 60.0


@pytest.mark.parametrize(
    "kwargs",
    [{"base_s": 0.0}, {"base_s": 61.0}, {"factor": 0.5}, {"jitter": 1.5}, {"jitter": -0.1}],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must|need"):
        Backoff(**kwargs)
