"""Per-decision overhead of the paper/live strategy host, in process.

One decision: :meth:`hftlib.live.host.StrategyHost.feed` of one depth message (a
``MarketBatch`` of one level row) up to the venue request it returns (the strategy's compiled
``on_book``, the risk checks, the outbox drain and the client-id mapping). The venue's
answer is fed back between decisions, untimed. The host boxes its engine state once
(:meth:`~hftlib.live.host.StrategyHost.hold_state`, as the live runner does);
``--unboxed`` measures the per-call unboxing path instead. Prints p50/p99 in microseconds;
the last line is one JSON object.

    python benchmarks/live_host_overhead.py [--decisions 20000] [--unboxed] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from hftlib.live.host import StrategyHost

from hftlib.data.synth import synthetic_instrument
from hftlib.engine.types import REQ_CANCEL, REQ_NEW, ST_CANCELED, ST_OPEN
from hftlib.types import F_ASK, F_BID, F_LAST, K_DEPTH, K_SNAPSHOT, empty_events
from hftlib.venue.interface import BOOK_LIVE, MarketBatch, OrderUpdate

STRATEGY = str(Path(__file__).with_name("_flip_strategy.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--unboxed", action="store_true", help="skip hold_state()")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    inst = synthetic_instrument()
    host = StrategyHost(
        STRATEGY, strategy_id="bench", assets=[("v", inst.symbol)], instruments=[inst]
    )
    if not args.unboxed:
        host.hold_state()
    t = 1_700_000_000_000_000_000
    book = empty_events(2)
    book["flags"] = [K_SNAPSHOT | F_BID, K_SNAPSHOT | F_ASK | F_LAST]
    book["px"], book["qty"] = [1000, 1002], [5, 5]
    book["exch_ts"] = book["local_ts"] = t
    host.start(t)
    pending = host.feed("v", MarketBatch(symbol=inst.symbol, events=book, book_state=BOOK_LIVE))
    msgs = []
    for k in range(args.decisions + 1000):
        row = empty_events(1)
        row["flags"] = K_DEPTH | F_BID | F_LAST
        row["px"], row["qty"] = 1000, 5 + k % 7
        row["exch_ts"] = row["local_ts"] = t + (k + 1) * 1000
        msgs.append(MarketBatch(symbol=inst.symbol, events=row, book_state=BOOK_LIVE))
    times = np.zeros(len(msgs), dtype=np.int64)
    clock = time.perf_counter_ns
    for k, msg in enumerate(msgs):
        (req,) = pending  # every message gives one request: answer it (untimed)
        status = ST_OPEN if req.kind == REQ_NEW else ST_CANCELED
        answer = OrderUpdate(
            symbol=req.symbol, client_id=req.client_id, status=status, local_ts=req.sent_ns
        )
        host.report(answer, REQ_CANCEL if req.kind == REQ_CANCEL else REQ_NEW)
        t0 = clock()
        pending = host.feed("v", msg)
        times[k] = clock() - t0
    us = times[1000:] / 1e3  # the first thousand warm caches up
    result = {
        "p50_us": round(float(np.percentile(us, 50)), 2),
        "p99_us": round(float(np.percentile(us, 99)), 2),
        "mean_us": round(float(us.mean()), 2),
        "decisions": int(len(us)),
        "held": not args.unboxed,
    }
    if not args.json:
        print(f"host feed -> request: p50 {result['p50_us']} us, p99 {result['p99_us']} us")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
