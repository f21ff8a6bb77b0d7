"""Events as pandas frames, for notebooks (prices and sizes in units, kinds and sides named)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, F_LAST, KIND_MASK, KIND_NAMES, NO_PX


def events_to_frame(events: np.ndarray, instrument: Instrument | None = None) -> pd.DataFrame:
    """Return ``events`` as a DataFrame indexed by local time.

    Columns: ``kind`` and ``side`` (categorical), ``last`` (end of a venue message),
    ``exch_time``, ``px``/``qty`` (ticks, lots) and, with ``instrument``, ``price``/``size``
    in units; ``order_id``, ``seq``, ``aux`` as stored.
    """
    flags = events["flags"]
    kind_codes = flags & KIND_MASK
    side = np.where(flags & F_BID, "bid", np.where(flags & F_ASK, "ask", ""))
    frame = pd.DataFrame(
        {
            "kind": pd.Categorical([KIND_NAMES.get(int(k), f"kind{int(k)}") for k in kind_codes]),
            "side": pd.Categorical(side),
            "last": (flags & F_LAST) != 0,
            "exch_time": pd.to_datetime(events["exch_ts"], unit="ns", utc=True),
            "px": events["px"],
            "qty": events["qty"],
            "order_id": events["order_id"],
            "seq": events["seq"],
            "aux": events["aux"],
        },
        index=pd.DatetimeIndex(
            pd.to_datetime(events["local_ts"], unit="ns", utc=True), name="local_time"
        ),
    )
    if instrument is not None:
        px = events["px"].astype(np.float64) * instrument.tick_size
        frame["price"] = np.where(events["px"] == NO_PX, np.nan, px)
        frame["size"] = events["qty"] * instrument.lot_size
    return frame
