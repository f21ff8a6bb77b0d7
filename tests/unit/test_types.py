"""The event format: one 64-byte aligned row, documented kinds and flags."""

from __future__ import annotations

import numpy as np

from hftlib import types as t


def test_event_row_is_64_bytes_and_aligned() -> None:
    assert t.EVENT_DTYPE.itemsize == 64
    assert t.EVENT_DTYPE.isalignedstruct
    offsets = [t.EVENT_DTYPE.fields[name][1] for name in t.EVENT_FIELDS]
    assert offsets == [0, 4, 8, 16, 24, 32, 40, 48, 56]


def test_every_field_kind_and_flag_is_documented() -> None:
    doc = t.__doc__ or ""
    for name in t.EVENT_FIELDS:
        assert f"\n{name} :" in doc, name
    for const in dir(t):
        if const.startswith(("K_", "F_")) and const != "F_":
            assert const in doc, const


def test_kinds_fit_the_kind_mask_and_flags_do_not_overlap_it() -> None:
    kinds = [v for k, v in vars(t).items() if k.startswith("K_")]
    flags = [v for k, v in vars(t).items() if k.startswith("F_")]
    assert len(set(kinds)) == len(kinds)
    assert all(0 < k <= t.KIND_MASK for k in kinds)
    assert all(f & t.KIND_MASK == 0 for f in flags)
    assert len(set(flags)) == len(flags)
    assert set(t.KIND_NAMES) == set(kinds)


def test_empty_events_uses_named_sentinels() -> None:
    ev = t.empty_events(3)
    assert ev.dtype == t.EVENT_DTYPE
    assert (ev["order_id"] == t.NO_ID).all()
    assert (ev["aux"] == t.NO_ID).all()


def test_describe_flags_reads_kind_and_bits() -> None:
    assert t.describe_flags(t.K_DEPTH | t.F_BID | t.F_LAST) == "depth|bid|last"
    assert t.describe_flags(t.K_TRADE | t.F_ASK) == "trade|ask"
    assert t.describe_flags(200) == "kind200"
    assert t.kind_of(np.array([t.K_BBO | t.F_ASK], dtype=np.uint32))[0] == t.K_BBO
