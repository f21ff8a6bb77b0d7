"""hftlib's exception hierarchy: one root, and each error also a matching builtin."""

from __future__ import annotations


class HftlibError(Exception):
    """Root of every error hftlib raises on purpose."""


class InstrumentError(HftlibError, ValueError):
    """An instrument spec is missing or invalid."""


class OffGridError(HftlibError, ValueError):
    """A price or size is not a whole number of ticks or lots.

    Parameters
    ----------
    what : str
        ``"price"`` or ``"size"``.
    value : float
        The offending value, as read.
    step : float
        The tick or lot size it was checked against.
    instrument : str
        ``venue:symbol`` of the spec.
    where : str
        Where the value came from (``file:line``), when the caller knows.
    index : int
        Position of the value in the converted batch (-1 if not applicable).
    """

    def __init__(
        self,
        what: str,
        value: float,
        step: float,
        instrument: str,
        where: str = "",
        index: int = -1,
    ) -> None:
        self.what = what
        self.value = value
        self.step = step
        self.instrument = instrument
        self.where = where
        self.index = index
        at = f"{where}: " if where else ""
        super().__init__(
            f"{at}{what} {value!r} is not a multiple of {step!r} for {instrument} "
            f"(off the {'tick' if what == 'price' else 'lot'} grid; hftlib never rounds)"
        )


class DataError(HftlibError, ValueError):
    """Input data is malformed; names the file, line and reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}" if line > 0 else f"{path}: {reason}")


class StorageError(HftlibError, OSError):
    """An event file cannot be read or written as asked."""
