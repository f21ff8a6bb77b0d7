"""Reconnect backoff: 1 s, 2 s, 4 s, 8 s ... capped at 60 s, with jitter (runbook R24).

A tiny class rather than a library: ``backoff`` and ``tenacity`` wrap a whole retried call
(decorators, their own sleeping), while a connector's reconnect loop only needs the next
delay and a reset once a connection has proved healthy.

Jitter only ever *shortens* a delay (``nominal * (1 - jitter * u)``, ``u`` uniform in
``[0, 1)``), so the cap is a hard ceiling and many clients reconnecting after one outage
spread out instead of arriving together.
"""

from __future__ import annotations

import random
from typing import Final

DEFAULT_BASE_S: Final = 1.0
DEFAULT_CAP_S: Final = 60.0
DEFAULT_FACTOR: Final = 2.0
DEFAULT_JITTER: Final = 0.2


class Backoff:
    """Exponential reconnect delays with a cap and downward jitter.

    Parameters
    ----------
    base_s : float
        First delay in seconds. Default 1.0.
    cap_s : float
        Largest delay in seconds. Default 60.0.
    factor : float
        Growth per attempt. Default 2.0.
    jitter : float
        Fraction in ``[0, 1]`` by which a delay may be shortened at random. Default 0.2.
    rng : random.Random or None
        Source of the jitter; pass a seeded one for reproducible delays. Default None (a
        fresh, OS-seeded generator).
    """

    __slots__ = ("_attempt", "_rng", "base_s", "cap_s", "factor", "jitter")

    def __init__(
        self,
        base_s: float = DEFAULT_BASE_S,
        cap_s: float = DEFAULT_CAP_S,
        factor: float = DEFAULT_FACTOR,
        jitter: float = DEFAULT_JITTER,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {jitter}")
        self.base_s = base_s
        self.cap_s = cap_s
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Return how many delays were handed out since the last reset."""
        return self._attempt

    def nominal(self, attempt: int) -> float:
        """Return the un-jittered delay of attempt ``attempt`` (0-based), in seconds."""
        # Compare exponents rather than computing factor**attempt, which overflows a float
        # long before a reconnect loop gives up.
        delay = self.base_s
        for _ in range(attempt):
            delay *= self.factor
            if delay >= self.cap_s:
                return self.cap_s
        return min(delay, self.cap_s)

    def next_delay(self) -> float:
        """Return the next delay in seconds and advance the attempt count."""
        delay = self.nominal(self._attempt)
        self._attempt += 1
        return delay * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Start again at ``base_s`` (call once a connection has been healthy)."""
        self._attempt = 0
