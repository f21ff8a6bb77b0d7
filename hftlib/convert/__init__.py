"""Converters from real venue and vendor formats into hftlib events.

Each format lives in its own module exposing:

``FORMAT_HELP: str``
    What the format is, which files it takes (and in which order), an example.
``convert(paths, instrument, report, *, chunk_rows) -> Iterator[np.ndarray]``
    Yields event chunks (see :mod:`hftlib.convert.base`) in local-timestamp order.
``detect_instrument(paths) -> tuple[str, str] | None``
    ``(venue, symbol)`` read off the input, to look up a built-in spec when the user
    gives none; None when the input does not say.

:data:`FORMATS` maps the CLI name to the module; modules import lazily so that
``hft --help`` stays fast.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FORMATS: dict[str, str] = {
    "binance": "hftlib.convert.binance_ws",
    "tardis": "hftlib.convert.tardis",
    "binance-tdepth": "hftlib.convert.binance_tdepth",
    "bybit": "hftlib.convert.bybit_ob",
    "lobster": "hftlib.convert.lobster",
    "bitstamp": "hftlib.convert.bitstamp",
}
"""Format name -> module implementing it."""


def converter(fmt: str) -> ModuleType:
    """Return the module for format ``fmt``; raise ``KeyError`` listing the known ones."""
    try:
        return importlib.import_module(FORMATS[fmt])
    except KeyError:
        raise KeyError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
