# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Cross-venue arbitrage
#
# The shipped `arbitrage` strategy trades one underlying listed on two venues: when one
# venue's best bid is above the other's best ask by more than both taker fees and a
# latency buffer, it sells there and buys here with immediate-or-cancel orders, and
# hedges whatever leg falls short. This notebook builds a second venue from the synthetic
# market with a basis that wanders and mean-reverts, backtests the strategy on both, and
# looks at the trades, the positions, the fees, and a threshold that nothing clears.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hftlib
from hftlib.data.reader import EventStream
from hftlib.data.storage import write_events
from hftlib.data.synth import SynthParams, generate_array
from hftlib.data.validate import ValidationReport, validate
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.refbook import L2Book
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_CLEAR,
    K_SNAPSHOT,
    NO_ID,
    NO_PX,
)

# %% [markdown]
# ## Two venues of one underlying
# Venue A is the synthetic market, started at 2,500.0 USD (25,000 ticks of 0.1) so that a
# tick is 0.4 bp: 120,000 events, one message per millisecond on average, about a minute.
# Both venues are linear contracts with the same tick and lot, no maker fee and a 1 bp
# taker fee; they differ only in their venue name (`venue-a`, `venue-b`), which makes them
# two instruments.

# %%
TICK, LOT, TAKER_FEE = 0.1, 0.001, 0.0001
common = {
    "symbol": "SYNUSD",
    "kind": InstrumentKind.LINEAR_PERPETUAL,
    "tick_size": TICK,
    "lot_size": LOT,
    "taker_fee": TAKER_FEE,
}
venue_a = Instrument(venue="venue-a", **common)
venue_b = Instrument(venue="venue-b", **common)
a_events = generate_array(SynthParams(seed=3, start_px=25_000, mean_gap_ns=1_000_000), 120_000)

# %% [markdown]
# Venue B quotes the same book as venue A, shifted by a **basis** of whole ticks. The basis
# is an Ornstein–Uhlenbeck process sampled every 250 ms (stationary standard deviation 10
# ticks = 4 bp, mean reversion time 5 s), rounded to ticks, from its own seeded generator:
# the same data every run.

# %%
STEP_NS = 250_000_000
TAU_S, SD_TICKS = 5.0, 10.0
t0 = int(a_events["exch_ts"][0])
n_steps = (int(a_events["exch_ts"][-1]) - t0) // STEP_NS + 1
rng = np.random.default_rng(2024)
phi = np.exp(-STEP_NS / 1e9 / TAU_S)
shocks = SD_TICKS * np.sqrt(1.0 - phi**2) * rng.standard_normal(n_steps)
ou = np.zeros(n_steps)
for k in range(1, n_steps):
    ou[k] = phi * ou[k - 1] + shocks[k]
basis = np.rint(ou).astype(np.int64)
print(f"{n_steps} basis steps, {basis.min()}..{basis.max()} ticks")

# %% [markdown]
# Venue A's rows are L2 *updates* (absolute size at a price), so shifting only the rows
# after a basis change would leave B's old levels behind. Whenever the basis changes, B
# therefore gets a whole-book snapshot (a `K_CLEAR` of both sides and one `K_SNAPSHOT` row
# per level, flagged `F_SYNTHETIC`) of A's book at that moment, shifted by the new basis;
# the messages in between are A's, shifted. Basis changes take effect at message
# boundaries, and the snapshot shares the timestamps of the message it precedes.
# `hftlib.refbook.L2Book` replays A's book.


# %%
def snapshot(book: L2Book, shift: int, exch_ts: int, local_ts: int) -> np.ndarray:
    """Return a whole-book snapshot message of ``book`` shifted by ``shift`` ticks."""
    levels = [(F_BID, px, qty) for px, qty in book.bids.items()]
    levels += [(F_ASK, px, qty) for px, qty in book.asks.items()]
    out = np.zeros(1 + len(levels), dtype=EVENT_DTYPE)
    out["exch_ts"], out["local_ts"] = exch_ts, local_ts
    out["order_id"], out["seq"], out["aux"] = NO_ID, NO_ID, NO_ID
    out[0]["flags"] = K_CLEAR | F_BID | F_ASK | F_SYNTHETIC
    out[0]["px"] = NO_PX
    for i, (side, px, qty) in enumerate(levels, start=1):
        out[i]["flags"] = K_SNAPSHOT | side | F_SYNTHETIC
        out[i]["px"], out[i]["qty"] = px + shift, qty
    out[-1]["flags"] |= F_LAST
    return out


def follow(a: np.ndarray, basis_ticks: np.ndarray, step_ns: int) -> np.ndarray:
    """Return venue B's events: venue A's book shifted by the basis of each message's step."""
    ends = np.flatnonzero(a["flags"] & F_LAST)
    starts = np.concatenate(([0], ends[:-1] + 1))
    shift = basis_ticks[(a["exch_ts"][starts] - a["exch_ts"][0]) // step_ns]
    b = a.copy()
    priced = b["px"] != NO_PX
    b["px"][priced] += np.repeat(shift, ends - starts + 1)[priced]
    book, parts, done = L2Book(), [], 0
    for m in np.flatnonzero(np.diff(shift)) + 1:  # messages where the basis changed
        s = int(starts[m])
        rows = a[done:s]
        for flags, px, qty in zip(
            rows["flags"].tolist(), rows["px"].tolist(), rows["qty"].tolist(), strict=True
        ):
            book.apply(flags, px, qty)
        parts.append(b[done:s])
        parts.append(snapshot(book, int(shift[m]), int(a["exch_ts"][s]), int(a["local_ts"][s])))
        done = s
    parts.append(b[done:])
    return np.concatenate(parts)


b_events = follow(a_events, basis, STEP_NS)
files = [Path("venue_a.npy"), Path("venue_b.npy")]
write_events(files[0], iter([a_events]), venue_a, {"notebook": "arbitrage"})
write_events(files[1], iter([b_events]), venue_b, {"notebook": "arbitrage", "basis": "OU"})
print(f"venue A {len(a_events):,} events, venue B {len(b_events):,} (with snapshots)")

# %% [markdown]
# The validator replays B's book and checks time order and crossed books.

# %%
report_b = ValidationReport(path=str(files[1]))
for _ in validate(EventStream.from_paths([files[1]]), report_b):
    pass
print("venue B:", "clean" if report_b.ok else report_b.problems)

# %% [markdown]
# ## Costs and the threshold
# Selling B at its bid and buying A at its ask pays `gross = (bid_B − ask_A) / mid` minus
# two taker fees (2 bp) minus the latency buffer (0.5 bp, for prices moving while the
# orders travel); the strategy trades when that net edge exceeds `threshold_bps` (1 bp).
# With one-tick spreads, the basis has to cover the spread and 3.5 bp (8.75 ticks): 10
# ticks or more. Each pair is 0.1 units a leg, at most 0.5 units of position per venue,
# and at most one pair per 100 ms. Orders take 1 ms each way.

# %%
ARB = {
    "order_qty": 0.1,
    "max_position": 0.5,
    "threshold_bps": 1.0,
    "latency_buffer_bps": 0.5,
    "cooldown_ms": 100,
}
RUN = {"latency": "1ms", "record_interval": "100ms"}
result = hftlib.backtest("arbitrage", files, params=ARB, **RUN)
print(result.summary())

# %% [markdown]
# ## The opportunities taken
# The order log holds every leg: pair `n` has client ids `3n` (sell leg), `3n + 1` (buy
# leg) and `3n + 2` (hedges). Each leg's first row gives its limit price, so the edge the
# strategy saw.

# %%
orders = result.orders_frame()
first = orders[~orders["order_id"].duplicated()].reset_index()
first["pair"], first["leg"] = first["client_id"] // 3, first["client_id"] % 3
sells = first[first["leg"] == 0].set_index("pair")
buys = first[first["leg"] == 1].set_index("pair")
hedges = first[first["leg"] == 2]
pairs = pd.DataFrame(
    {
        "time": sells["local_ts"],
        "sold": sells["instrument"].str.split(":").str[0],
        "sell px": sells["price"],
        "buy px": buys["price"],
        "qty": sells["qty"],
    }
)
mid = (pairs["sell px"] + pairs["buy px"]) / 2
pairs["gross bps"] = ((pairs["sell px"] - pairs["buy px"]) / mid * 1e4).round(2)
print(pairs.head(10).to_string())
print(len(pairs), "pairs:", pairs["sold"].value_counts().to_dict(), "|", len(hedges), "hedges")
last_state = orders[~orders["order_id"].duplicated(keep="last")]["status"]
print("orders ended:", last_state.value_counts().to_dict())

# %% [markdown]
# In a backtest our orders do not move the recorded books, so an edge stays visible after
# we took it: the cooldown spaces the pairs, and the position limit stops them. A leg that
# meets a book that moved during the 1 ms flight expires unfilled; the strategy then buys
# or sells the shortfall at market on that leg's venue.
#
# ## Positions stay hedged, and the fees
# Every sample (100 ms) of both venues' positions: one long, the other short by the same
# amount. A sample can fall between a leg's fill and its hedge.

# %%
records = result.frame()
positions = records.pivot_table(index=records.index, columns="asset", values="position")
positions.columns = [i.venue for i in result.instruments]
imbalance = positions.sum(axis=1)
final_positions = positions.iloc[-1]
print(final_positions.to_dict(), "| largest |A + B| in a sample:", float(imbalance.abs().max()))
fills = result.fills_frame()
fees = fills.groupby("instrument")["fee"].sum()
stats = result.stats()
print("fees", fees.round(4).to_dict(), "total", round(stats["fees"], 4))
print("pnl", round(stats["pnl"], 4))

# %% [markdown]
# ## Plots
# `result.plot` draws each venue's equity, position and price with the fills. Then the
# basis: as generated, as the samples saw it (B's mid minus A's, in ticks), the band
# inside which no edge clears the costs, and the pairs taken.

# %%
png = Path("arbitrage.png")
plt.close(result.plot(png))
mids = records.pivot_table(index=records.index, columns="asset", values="mid")
seen_basis = (mids[1] - mids[0]) / TICK
price = float(mids.stack().mean())
costs_bps = 2 * TAKER_FEE * 1e4 + ARB["latency_buffer_bps"] + ARB["threshold_bps"]
band = 1 + costs_bps * 1e-4 * price / TICK  # the spread plus the costs, in ticks
step_times = pd.to_datetime(t0 + STEP_NS * np.arange(n_steps), utc=True)
basis_png = Path("basis.png")
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.step(step_times, basis, where="post", lw=0.8, color="black", label="basis (generated)")
ax.plot(seen_basis.index, seen_basis.to_numpy(), lw=0.6, color="tab:blue", label="mid B − mid A")
ax.axhspan(-band, band, color="0.9", label="no edge after costs")
for venue, marker, color in (("venue-b", "v", "tab:red"), ("venue-a", "^", "tab:green")):
    when = pairs.loc[pairs["sold"] == venue, "time"]
    step = (when.astype("int64").to_numpy() - t0) // STEP_NS
    ax.scatter(when, basis[step], marker=marker, color=color, s=16, label=f"sold {venue}")
ax.set_ylabel("ticks")
ax.legend(loc="lower left", fontsize=7, ncols=2)
fig.tight_layout()
fig.savefig(basis_png, dpi=80)
plt.close(fig)
print(png, basis_png)

# %% [markdown]
# ## A threshold nothing clears
# The same run with `threshold_bps = 1e6`: the strategy evaluates every book update but
# never sends an order.

# %%
idle = hftlib.backtest("arbitrage", files, params={**ARB, "threshold_bps": 1e6}, **RUN)
print("orders:", len(idle.orders_log), "fills:", len(idle.fills))
