"""Verifiers: rebuild a book from our converted events and check it against the venue's own view.

Each verifier module exposes ``VERIFY_HELP: str`` and
``verify(paths, instrument, *, strict, progress) -> dict`` returning JSON-ready results with
at least ``compared``, ``matched`` and ``mismatches`` (a list of dicts, each explaining one),
and optionally ``ok`` (bool) when a mismatch can be explained by the venue's data rather than
by our conversion; without ``ok``, any mismatch is a failure (``hft data verify`` exits 1).
"""

from __future__ import annotations

import importlib
from types import ModuleType

VERIFIERS: dict[str, str] = {
    "binance": "hftlib.verify.binance",
    "lobster": "hftlib.verify.lobster",
    "bitstamp": "hftlib.verify.bitstamp",
}
"""Verifier name -> module implementing it."""


def verifier(name: str) -> ModuleType:
    """Return the module for verifier ``name``; raise ``KeyError`` listing the known ones."""
    try:
        return importlib.import_module(VERIFIERS[name])
    except KeyError:
        raise KeyError(f"unknown verifier {name!r}; known: {', '.join(VERIFIERS)}") from None
