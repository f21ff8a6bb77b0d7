# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Queue models
#
# An L2 feed shows how much rests at each price, not who is ahead of whom. When a level
# shrinks without a trade, somebody cancelled, but was it ahead of our order or behind it?
# The venue's queue model answers that guess, and the answer decides when a resting order
# fills. This notebook runs the same strategy on the same data under every L2 queue model,
# then checks order by order how they relate to the most pessimistic one, `risk_averse`.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from hftlib.sim.queue import (
    QS_AHEAD,
    parse_queue_model,
    queue_on_arrival,
    queue_on_depth,
    queue_on_trade,
)

import hftlib
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array, synthetic_instrument

events = generate_array(SynthParams(seed=11, mean_gap_ns=1_000_000), 200_000)
data = Path("synusd.npy")
write_events(data, iter([events]), synthetic_instrument(), {"notebook": "queue_models"})
start_ns = int(events["local_ts"][0])

# %% [markdown]
# ## What each model assumes
# Every model tracks `ahead`, the lots in front of our order. It starts at the whole level
# (our order joins the back), and every trade at our price takes its size off `ahead`
# (trades always eat the front). The order fills once trades overshoot `ahead`, or at once
# when the price trades or moves through it. The models differ only in what a level
# *decrease* that trades do not explain (`chg` lots of cancellations) does to `ahead`:
#
# | model | assumption about cancellations |
# |---|---|
# | `risk_averse` | all behind us: `ahead` only falls when the level becomes smaller than it |
# | `power:n` | a share `p = back^n / (back^n + front^n)` comes from behind us |
# | `power2:n` | `p = back^n / (back + front)^n` |
# | `power3:n` | `p = 1 − (front / (front + back))^n` |
# | `log` | `p = ln(1 + back) / (ln(1 + back) + ln(1 + front))` |
# | `log2` | `p = ln(1 + back) / ln(1 + back + front)` |
#
# With `front = ahead` and `back` the rest of the level, the probability models move
# `ahead` to `front − (1 − p)·chg` (and take from the front whatever the queue behind
# could not supply), never above the new level size. The larger `n`, the more the
# cancellations are assumed to come from the longer side of our order. These are
# hftbacktest's formulas (`sim/queue.py` has them in full); `l3_fifo` is the exact
# model for order-by-order data and needs L3 events.

# %% [markdown]
# ## The market maker under every model
# The `market_maker` of the quickstart notebook, same data, 1 ms order latency each way.

# %%
MODELS = ["risk_averse", "power:2", "power2:2", "power3:3", "log", "log2"]
MM_PARAMS = {
    "gamma": 0.05,
    "order_qty": 0.01,
    "max_position": 0.05,
    "warmup_s": 10.0,
    "vol_window_s": 30.0,
    "intensity_window_s": 30.0,
}
RUN = {"latency": "constant:1ms,1ms", "seed": 1}

rows = {}
for model in MODELS:
    res = hftlib.backtest("market_maker", [data], params=MM_PARAMS, queue=model, **RUN)
    st = res.stats()
    rows[model] = {
        "fills": st["fills"],
        "buys": st["buy_fills"],
        "sells": st["sell_fills"],
        "fill ratio": round(st["fill_ratio"], 3),
        "pnl": round(st["pnl"], 3),
        "fees": round(st["fees"], 3),
        "first fill (s)": round((int(res.fills["local_ts"][0]) - start_ns) / 1e9, 4),
    }
table = pd.DataFrame.from_dict(rows, orient="index")
print(table.to_string())

# %%
png = Path("queue_models.png")
fig, (ax_fills, ax_pnl) = plt.subplots(1, 2, figsize=(10, 3.5))
table["fills"].plot.bar(ax=ax_fills, color="tab:blue", title="fills")
table["pnl"].plot.bar(ax=ax_pnl, color="tab:green", title="P&L (USD)")
for ax in (ax_fills, ax_pnl):
    ax.tick_params(axis="x", rotation=30)
fig.tight_layout()
fig.savefig(png, dpi=80)
plt.close(fig)
print(png, png.stat().st_size, "bytes")

# %% [markdown]
# Until the first fill every run is identical (same data, same orders), and here
# `risk_averse`'s first fill comes no earlier than any other model's. The totals are not
# ordered, though (`log` fills less than `risk_averse`): once the runs' fills differ, the
# strategy's inventory, skew and re-quotes differ, and a model that filled an order early
# may have its next quote at the back of the queue where the risk-averse run still holds
# an older place. To compare the models themselves, the orders must not depend on the
# fills.
#
# ## Order by order against `risk_averse`
# `quote_mm` without a position limit cancels and re-posts a bid and an ask at the touch
# every 200 ms, whatever filled: the same orders, with the same ids, in every run. For each
# order `risk_averse` filled, does the other model fill it earlier, at the same moment,
# later, or not at all? And how many did it fill that `risk_averse` did not?

# %%
QUOTE = {"interval_ms": 200, "offset_ticks": 0, "qty": 0.01, "max_position": 0.0}
fill_times = {}
for model in MODELS:
    res = hftlib.backtest("quote_mm", [data], params=QUOTE, queue=model, **RUN)
    fill_times[model] = pd.Series(res.fills["exch_ts"], index=res.fills["order_id"])

base = fill_times["risk_averse"]
compared = {}
for model in MODELS:
    other = fill_times[model]
    t = other.reindex(base.index)
    compared[model] = {
        "fills": len(other),
        "earlier": int((t < base).sum()),
        "same time": int((t == base).sum()),
        "later": int((t > base).sum()),
        "never": int(t.isna().sum()),
        "extra": len(other.index.difference(base.index)),
    }
versus_risk_averse = pd.DataFrame.from_dict(compared, orient="index")
print(versus_risk_averse.to_string())

# %% [markdown]
# `power:2` fills every order `risk_averse` fills, never later, plus some more: with an
# even `n` its share `p` stays in `[0, 1]`, so its estimate of `ahead` is never above the
# risk-averse one. That is the sense in which `risk_averse` is the pessimistic bound.
#
# The other models break it for a few orders. A probability model may conclude that more
# lots left than stood ahead of us: `ahead` goes *negative* (the order waits for a trade
# to fill). At the next cancellation `front` is negative, and then
#
# - `log` needs `ln(1 + front)`, undefined below `front = −1`: the share is NaN and, like
#   hftbacktest (Rust's `f64::min` skips a NaN), the order is put back at the end of the
#   level;
# - `power2`, `power3` (odd `n`) and `log2` can get a share `p > 1`: more than the whole
#   cancellation is taken from behind, and `ahead` grows back.
#
# The kernels themselves show it: an order joins a 100-lot level, 90 lots are cancelled,
# the level refills to 300, 100 and then 50 more lots are cancelled, and a 20-lot trade
# prints at our price.


# %%
def walk(model: str) -> list[object]:
    """Return ``ahead`` after each step of the scenario above, and whether the trade filled."""
    qm, n = parse_queue_model(model)
    q = np.zeros(2)
    queue_on_arrival(qm, q, 100.0)
    out: list[object] = [q[QS_AHEAD]]
    for prev, new in ((100.0, 10.0), (10.0, 300.0), (300.0, 200.0), (200.0, 150.0)):
        queue_on_depth(qm, n, q, prev, new)
        out.append(round(float(q[QS_AHEAD]), 1))
    out.append(bool(queue_on_trade(qm, q, 20.0, 1.0, False) > 0))
    return out


steps = ["join 100", "100->10", "10->300", "300->200", "200->150", "trade 20 fills"]
example = pd.DataFrame({m: walk(m) for m in MODELS}, index=steps).T
print(example.to_string())

# %% [markdown]
# At `300->200` the `log` model puts 30 of the 100 cancelled lots in front of an order that
# had only 10 ahead: `ahead = −19.7`. The next cancellation sends it to the back of the
# level (150), and the trade that fills the order under every other model leaves it
# waiting. Which model is right depends on the venue and the symbol; compare them on real
# data, and take `risk_averse` as the conservative reference rather than as a proven
# bound for every model.
