# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # hftlib data quickstart
#
# Generate a synthetic market, store it, stream it back and look at it as a pandas frame.
# Every step here is a library call; `hft data ...` runs the same code from the shell.

# %%
from pathlib import Path

from hftlib.data.frame import events_to_frame
from hftlib.data.reader import EventStream
from hftlib.data.storage import read_meta, write_events
from hftlib.data.summary import summarize
from hftlib.data.synth import SynthParams, generate, synthetic_instrument
from hftlib.data.validate import ValidationReport, validate

workdir = Path("quickstart_data")
workdir.mkdir(exist_ok=True)
instrument = synthetic_instrument()

# %% [markdown]
# ## A deterministic synthetic market
# The same seed always gives the same bytes, whatever the chunk size.

# %%
path = workdir / "synusd.npy"
write_events(path, generate(SynthParams(seed=7), 50_000, chunk_rows=10_000), instrument)
meta = read_meta(path)
print(meta.instrument.key, meta.rows, "events")

# %% [markdown]
# ## Validate while streaming
# The validator checks time order, feed latency, message framing, crossed books, sequence
# gaps and duplicates, chunk by chunk.

# %%
report = ValidationReport(path=str(path))
summary = summarize(validate(EventStream.from_paths([path], chunk_rows=8_192), report))
print("clean" if report.ok else report.problems)
print(summary.to_dict(instrument)["by_kind"])

# %% [markdown]
# ## A frame for exploring
# Prices and sizes come back in units; local time is the index.

# %%
first = next(iter(EventStream.from_paths([path], chunk_rows=2_000)))
frame = events_to_frame(first, instrument)
trades = frame[frame["kind"] == "trade"]
print(trades[["side", "price", "size"]].head())
print("traded:", round(float(trades["size"].sum()), 3), instrument.symbol[:3])
