# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Market maker quickstart
#
# The shipped `market_maker` strategy (GLFT / Avellaneda–Stoikov quotes from online
# estimates) on the built-in synthetic market: generate the data, backtest it, read the
# results as frames, look at how its quotes react to inventory, save a plot, and compare
# the two quoting models.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hftlib
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument
from hftlib.results.result import BacktestResult

# %% [markdown]
# ## Data
# 200,000 events of `synthetic:SYNUSD` (tick 0.1 USD, lot 0.001, maker rebate 1 bp,
# taker fee 4 bp). One message every millisecond on average gives about 100 seconds of
# market: a one-tick spread most of the time, a mid that random-walks in ticks, trades at
# the touch. The seed fixes every byte.

# %%
instrument = synthetic_instrument()
events = generate_array(SynthParams(seed=11, mean_gap_ns=1_000_000), 200_000)
data = Path("synusd.npy")
write_events(data, iter([events]), instrument, {"notebook": "market_maker_quickstart"})
span_s = (int(events["exch_ts"][-1]) - int(events["exch_ts"][0])) / 1e9
print(f"{len(events):,} events over {span_s:.0f} s")

# %% [markdown]
# ## The model and its parameters
# The strategy keeps one post-only bid and one post-only ask of `order_qty` each. Where it
# puts them comes from a market maker's optimal-control problem: fills arrive as a Poisson
# process whose intensity decays with the distance `δ` from the mid,
# `λ(δ) = A·exp(−k·δ)`, the mid moves with volatility `σ`, and holding inventory `q`
# (position counted in order sizes) costs risk aversion `γ`.
#
# | parameter | meaning |
# |---|---|
# | `model` | 0 = GLFT (Guéant–Lehalle–Fernandez-Tapia, infinite horizon), 1 = Avellaneda–Stoikov |
# | `gamma` | risk aversion per tick: larger = wider quotes and a stronger inventory skew |
# | `skew` | scales the inventory term (0 = symmetric quotes, 1 = the model's) |
# | `horizon_s` | Avellaneda–Stoikov only: the rolling horizon `T − t` |
# | `order_qty`, `max_position` | quote size and the largest absolute position (base units) |
# | `sample_ms`, `vol_window_s` | `σ` is an EWMA of squared mid changes sampled every `sample_ms` |
# | `intensity_window_s` | window of the fit of `A` and `k` (how far from the mid trades reach) |
# | `warmup_s` | no quote before this much history and a first successful fit |
#
# GLFT's depths are `c1 + σ·c2/2 ± skew·σ·c2·q` with `c1 = ln(1 + γ/k)/γ` and
# `c2 = sqrt(γ/(2Ak)·(1 + γ/k)^(k/γ + 1))`: a long inventory (`q > 0`) moves the bid away
# and the ask closer, so the position mean-reverts. `σ`, `A` and `k` are re-estimated every
# `sample_ms`, so the quotes follow the market's activity. The 100 s of data are short, so
# the estimation windows are 30 s instead of the default 60 s.

# %%
PARAMS = {
    "model": 0,
    "gamma": 0.05,
    "order_qty": 0.01,
    "max_position": 0.05,
    "warmup_s": 10.0,
    "vol_window_s": 30.0,
    "intensity_window_s": 30.0,
}
RUN = {"latency": "constant:1ms,1ms", "queue": "power2:2", "record_interval": "100ms", "seed": 1}

result = hftlib.backtest("market_maker", [data], params=PARAMS, **RUN)
print(result.summary())

# %% [markdown]
# ## Results as frames
# `frame()` holds the samples (every 100 ms here: mid, position, balance, equity, fees...),
# `fills_frame()` every fill, `orders_frame()` every order state change (a modify shows as
# a new `open` row with the new price).

# %%
records = result.frame()
fills = result.fills_frame()
orders = result.orders_frame()
print(fills[["side", "price", "qty", "maker", "fee", "position"]].head())
print(fills["side"].value_counts().to_dict())
stats = result.stats()
print({k: stats[k] for k in ("pnl", "fees", "fills", "fill_ratio", "max_drawdown")})
print("largest |position|:", float(np.abs(fills["position"]).max()), "<=", PARAMS["max_position"])

# %% [markdown]
# With a maker rebate most of the P&L here is the rebate (`fees` is negative: earned).
# The synthetic market has no adverse selection: on real data the spread and the skew have
# to pay for it.
#
# ## How the quotes depend on inventory
# Each quote the venue acknowledged (`open` rows), measured in ticks from the sampled mid
# at that moment, grouped by the position then.


# %%
def quote_depths(res: BacktestResult) -> pd.DataFrame:
    """Return every acknowledged quote's distance from the mid (ticks) and the position."""
    tick = res.instruments[0].tick_size
    rec = res.frame()[["mid", "position"]]
    quotes = res.orders_frame()
    quotes = quotes[quotes["status"] == "open"][["side", "price"]]
    joined = pd.merge_asof(quotes.sort_index(), rec, left_index=True, right_index=True)
    sign = np.where(joined["side"] == "buy", 1.0, -1.0)
    joined["depth_ticks"] = sign * (joined["mid"] - joined["price"]) / tick
    return joined.dropna()


depths = quote_depths(result)
inventory = pd.cut(depths["position"], [-1.0, -0.005, 0.005, 1.0], labels=["short", "flat", "long"])
skew_table = depths.pivot_table(
    index=inventory, columns="side", values="depth_ticks", aggfunc="mean", observed=True
).round(2)
print(skew_table)

# %% [markdown]
# Long, the bid sits deeper than the ask (the strategy would rather sell); short, the other
# way round.
#
# ## Plot
# `result.plot(path)` draws equity, position and the price with the fills, and writes a PNG.

# %%
png = Path("market_maker.png")
figure = result.plot(png)
plt.close(figure)
print(png, png.stat().st_size, "bytes")

# %% [markdown]
# ## GLFT against Avellaneda–Stoikov
# The same data and settings; Avellaneda–Stoikov (`model=1`) with a one-second horizon. Its
# half spread `γσ²τ/2 + ln(1 + γ/k)/γ` and reservation price `mid − q·γσ²τ` use the same
# estimates.

# %%
runs = {"GLFT": result}
runs["Avellaneda-Stoikov"] = hftlib.backtest(
    "market_maker", [data], params={**PARAMS, "model": 1, "horizon_s": 1.0}, **RUN
)
rows = {}
for name, res in runs.items():
    st = res.stats()
    q = quote_depths(res)
    rows[name] = {
        "fills": st["fills"],
        "buys": st["buy_fills"],
        "sells": st["sell_fills"],
        "pnl": round(st["pnl"], 3),
        "fees": round(st["fees"], 3),
        "max |pos|": float(np.abs(res.fills_frame()["position"]).max()),
        "mean depth (ticks)": round(float(q["depth_ticks"].mean()), 2),
    }
comparison = pd.DataFrame.from_dict(rows, orient="index")
print(comparison.to_string())
