# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Backtest quickstart
#
# A market maker on the built-in synthetic market: generate data, backtest the
# `quote_mm` strategy against the replay venue with 1 ms order latency and a
# probabilistic queue model, read the results as pandas frames, and write the report.
# Then a strategy of your own: a few `@njit` callbacks in a file.

# %%
from pathlib import Path

import numpy as np

import hftlib
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument

events = generate_array(SynthParams(seed=7), 300_000)
data = Path("synusd.npy")
write_events(data, iter([events]), synthetic_instrument(), {"notebook": "backtest_quickstart"})

# %% [markdown]
# ## Run
# `latency` takes a duration, `constant:ENTRY,RESPONSE`, `random:...` or `file:PATH`;
# `queue` one of `risk_averse`, `power:N`, `power2:N`, `power3:N`, `log`, `log2`, `l3_fifo`.

# %%
result = hftlib.backtest(
    "quote_mm",
    [data],
    params={"interval_ms": 100, "offset_ticks": 1, "qty": 0.01, "max_position": 0.1},
    latency="constant:1ms,1ms",
    queue="power3:3",
    record_interval="1s",
    seed=1,
)
print(result.summary())

# %% [markdown]
# ## Results as frames
# Records are sampled every `record_interval` (local time); fills and the order log carry
# both the exchange and the local timestamp of every change.

# %%
records = result.frame()
fills = result.fills_frame()
orders = result.orders_frame()
print(records.tail())
print(fills.head())
stats = result.stats()
print({k: stats[k] for k in ("pnl", "sharpe", "max_drawdown", "fills", "fill_ratio")})

# %% [markdown]
# ## Report
# `save` writes records/fills/orders as Parquet, `summary.txt`, `result.json` and a
# self-contained `report.html` (equity, position, and price with the fills).

# %%
result.save(Path("report"))
figure = result.plot()

# %% [markdown]
# ## Your own strategy
# A strategy is a module (or `.py` file) of `@njit(cache=True)` callbacks over a
# context: queries (`best_bid`, `mid_ticks2`, `position`, ...) and actions (`submit`,
# `cancel`, `modify`, `set_timer`, ...) from `hftlib.engine.actions`. Actions return
# status codes; invalid ones are counted in `result.counters`, never raised.

# %%
Path("lean_on_trades.py").write_text(
    '''
from numba import njit
from hftlib.engine.actions import best_ask, best_bid, cancel_all, position, submit
from hftlib.engine.types import BUY, OT_LIMIT, SELL, TIF_GTX
from hftlib.types import NO_PX

PARAMS = {"qty_lots": (int, 10, "quote size in lots"), "limit_lots": (int, 50, "max |position|")}


def make_state(params, instruments):
    import numpy as np
    return np.array([params["qty_lots"], params["limit_lots"]], dtype=np.int64)


@njit(cache=True)
def on_trade(ctx, state, asset):
    """After each public trade, re-quote at the touch on the side it did not hit."""
    bid, ask = best_bid(ctx, asset), best_ask(ctx, asset)
    if bid == NO_PX or ask == NO_PX:
        return
    cancel_all(ctx, asset)
    pos = position(ctx, asset)
    if pos + state[0] <= state[1]:
        submit(ctx, asset, BUY, bid, state[0], TIF_GTX, OT_LIMIT, -1)
    if pos - state[0] >= -state[1]:
        submit(ctx, asset, SELL, ask, state[0], TIF_GTX, OT_LIMIT, -1)
'''
)

# %% [markdown]
# Its own `limit_lots` check sees only the position, not the orders still in flight (a
# cancelled quote can fill before the cancel lands), so it can overshoot. The engine's
# pre-trade risk limits count open orders too: `max_position` (base units) is a hard cap,
# and the orders it refuses are counted by reason.

# %%
mine = hftlib.backtest(
    "lean_on_trades.py",
    [data],
    latency="2ms",
    queue="risk_averse",
    risk={"max_position": 0.05},
)
print(mine.summary())
print({k: v for k, v in mine.counters.items() if k.startswith("risk_")})
own_fills = mine.fills
print("largest |position| in lots:", int(np.abs(own_fills["position"]).max()))  # <= 50
