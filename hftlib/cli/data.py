"""``hft data``: convert, inspect, validate, verify and synthesise market data."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from hftlib import __version__
from hftlib.cli.common import (
    INSTRUMENT_HELP,
    emit,
    fail,
    instrument_options,
    progress_bar,
    resolve_instrument,
    total_size,
)
from hftlib.convert import FORMATS, converter
from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport
from hftlib.errors import HftlibError
from hftlib.instrument import Instrument
from hftlib.types import describe_flags
from hftlib.verify import VERIFIERS, verifier

_PATHS = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def data() -> None:
    """Convert, inspect, validate, verify and synthesise market data.

    Event files are Parquet (.parquet: compressed, for interchange) or memory-mapped numpy
    (.npy + .npy.json metadata: fastest to replay); the suffix of -o decides.
    """


def _formats_help() -> str:
    lines = []
    for name in FORMATS:
        try:
            first = converter(name).FORMAT_HELP.strip().splitlines()[0]
        except (ImportError, AttributeError):
            first = "(unavailable)"
        lines.append(f"{name}: {first}")
    return "\b\n" + "\n".join(lines)


class _FormatsCommand(click.Command):
    """A command whose help lists every converter format (loaded only when asked)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Formats (hft data formats FORMAT for details)"):
            formatter.write_text(_formats_help())


@data.command("formats")
@click.argument("fmt", required=False, type=click.Choice(list(FORMATS)))
def formats_cmd(fmt: str | None) -> None:
    """Explain each input format (or one FMT in full)."""
    names = [fmt] if fmt else list(FORMATS)
    for name in names:
        click.echo(f"== {name} ==\n{converter(name).FORMAT_HELP.strip()}\n")


@data.command("convert", cls=_FormatsCommand)
@click.argument("fmt", metavar="FORMAT", type=click.Choice(list(FORMATS)))
@click.argument("inputs", nargs=-1, required=True, type=_PATHS)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output event file (.parquet or .npy).",
)
@instrument_options
@click.option("--strict", is_flag=True, help="Stop at the first bad input line (exit 1).")
@click.option(
    "--repair/--no-repair",
    default=True,
    show_default=True,
    help="Validate the output and repair local timestamps: a recorder clock behind the "
    "venue's is corrected by one shift of every row, then rows still out of order are "
    "raised and flagged.",
)
@click.option(
    "--base-latency-us",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="With --repair: the smallest feed latency after a clock shift.",
)
@click.option("--chunk-rows", type=click.IntRange(1), default=DEFAULT_CHUNK_ROWS, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def convert_cmd(
    fmt: str,
    inputs: tuple[Path, ...],
    output: Path,
    strict: bool,
    repair: bool,
    base_latency_us: float,
    chunk_rows: int,
    as_json: bool,
    progress: bool,
    **inst: Any,
) -> None:
    """Convert venue or vendor files (FORMAT INPUT...) into an hftlib event file.

    Several INPUTs are read as one stream in the given order (e.g. consecutive day files,
    whose book state carries over). Bad lines are skipped and counted unless --strict.
    """
    mod = converter(fmt)
    instrument = _instrument(mod.detect_instrument, list(inputs), inst)
    report = ConvertReport(fmt, [str(p) for p in inputs], strict=strict)
    provenance: dict[str, Any] = {
        "converter": fmt,
        "hftlib_version": __version__,
        "inputs": [_describe_input(p) for p in inputs],
    }
    started = time.perf_counter()
    try:
        with progress_bar(total_size(inputs), "B", f"convert {fmt}", progress) as update:
            report.progress = update
            chunks = mod.convert(list(inputs), instrument, report, chunk_rows=chunk_rows)
            chunks = _on_end(chunks, lambda: provenance.update(conversion=report.to_dict()))
            if repair:
                meta, validation = _write_repaired_conversion(
                    chunks, output, instrument, provenance, strict, int(base_latency_us * 1e3)
                )
            else:
                validation = None
                meta = _write(output, chunks, instrument, provenance)
    except (HftlibError, OSError) as exc:
        fail(exc)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    result = {
        "output": str(output),
        "instrument": instrument.key,
        "rows": meta.rows,
        "seconds": round(elapsed, 3),
        "rows_per_second": round(meta.rows / elapsed) if elapsed else None,
        **_reports(report, validation),
    }
    if "clock" in provenance:
        result["clock"] = provenance["clock"]
    emit(result, as_json, _convert_text)


@data.command("inspect")
@click.argument("path", type=_PATHS)
@click.option("--head", type=click.IntRange(0), default=5, show_default=True, help="Rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def inspect_cmd(path: Path, head: int, as_json: bool) -> None:
    """Show an event file's instrument, provenance, counts per kind, time span and first rows."""
    from hftlib.data.storage import iter_events, read_meta
    from hftlib.data.summary import summarize

    try:
        meta = read_meta(path)
        summary = summarize(iter_events(path)).to_dict(meta.instrument)
        first = next(iter_events(path, max(head, 1)), np.empty(0))[:head]
    except HftlibError as exc:
        fail(exc)
    result = {
        "path": str(path),
        "meta": meta.to_dict(),
        "summary": summary,
        "head": [_row_dict(r, meta.instrument) for r in first],
    }
    emit(result, as_json, _inspect_text)


@data.command("validate")
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@click.option("--repair", is_flag=True, help="Write a repaired copy (needs -o with one input).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --repair writes the repaired events.",
)
@click.option("--strict", is_flag=True, help="Stop at the first problem (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def validate_cmd(
    paths: tuple[Path, ...], repair: bool, output: Path | None, strict: bool, as_json: bool
) -> None:
    """Check event files: time order, feed latency, message order, crossed books, gaps, duplicates.

    Prints one report per file; exits 1 when any file has problems (after repair: 0).
    """
    from hftlib.data.storage import iter_events, read_meta

    if repair and (output is None or len(paths) != 1):
        raise click.UsageError("--repair needs exactly one input and -o OUTPUT")
    reports = []
    try:
        for path in paths:
            meta = read_meta(path)
            if repair and output is not None:
                provenance = {**meta.provenance, "repaired_from": path.name}
                chunks, vreport = _repaired(
                    functools.partial(iter_events, path), str(path), strict, 0, provenance
                )
                _write(output, chunks, meta.instrument, provenance)
            else:
                chunks, vreport = _validated(
                    iter_events(path), repair=False, strict=strict, name=str(path)
                )
                for _ in chunks:
                    pass
            reports.append({"path": str(path), **vreport.to_dict()})
    except HftlibError as exc:
        fail(exc)
    problems = sum(r["total_problems"] for r in reports)
    emit({"files": reports, "problems": problems}, as_json, _validate_text)
    if problems and not repair:
        raise SystemExit(1)


@data.command("verify")
@click.argument("source", metavar="SOURCE", type=click.Choice(list(VERIFIERS)))
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@instrument_options
@click.option("--strict", is_flag=True, help="Stop at the first bad input line (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def verify_cmd(
    source: str, paths: tuple[Path, ...], strict: bool, as_json: bool, progress: bool, **inst: Any
) -> None:
    """Rebuild the book from our converted events and check it against the venue's own view.

    \b
    binance RAW.gz [NEXT_DAY.gz]   top of book vs every bookTicker with the same update id
    lobster MESSAGE ORDERBOOK      each message's size change vs the venue's orderbook rows
    bitstamp ORDERS TRADES         full L3 replay: makers resting, book ends empty, crossings

    Exits 1 when nothing could be compared (e.g. a day file without its snapshot) or
    anything compared does not match (bitstamp: unless the venue's own feed timing or
    missing rows explain it, see the result's "ok").
    """
    mod = verifier(source)
    conv = converter(source)
    instrument = _instrument(conv.detect_instrument, list(paths), inst)
    try:
        with progress_bar(total_size(paths), "B", f"verify {source}", progress) as update:
            result = mod.verify(list(paths), instrument, strict=strict, progress=update)
    except HftlibError as exc:
        fail(exc)
    emit(result, as_json, _verify_text)
    if not result.get("compared") or not result.get("ok", not result.get("mismatches")):
        raise SystemExit(1)


@data.command("synth")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output event file (.parquet or .npy).",
)
@click.option(
    "--events",
    "n_events",
    type=click.IntRange(1),
    default=1_000_000,
    show_default=True,
    help="Number of events to generate.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def synth_cmd(output: Path, n_events: int, seed: int, as_json: bool, progress: bool) -> None:
    """Generate a deterministic synthetic L2 market (the demo's and benchmarks' default data)."""
    from hftlib.data.summary import EventSummary

    result = synthesize(output, n_events, seed, progress, EventSummary())
    emit(result, as_json, _synth_text)


def synthesize(
    output: Path, n_events: int, seed: int, progress: bool, summary: Any
) -> dict[str, Any]:
    """Generate ``n_events`` synthetic events into ``output``; return figures for printing."""
    from hftlib.data.synth import SynthParams, generate, synthetic_instrument

    params = SynthParams(seed=seed)
    instrument = synthetic_instrument()
    started = time.perf_counter()
    with progress_bar(n_events, "ev", "synth", progress) as update:

        def counted(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for chunk in chunks:
                summary.add(chunk)
                update(len(chunk))
                yield chunk

        meta = _write(
            output,
            counted(generate(params, n_events)),
            instrument,
            {
                "generator": "hftlib.data.synth",
                "hftlib_version": __version__,
                "params": params.to_dict() if hasattr(params, "to_dict") else str(params),
            },
        )
    elapsed = time.perf_counter() - started
    return {
        "output": str(output),
        "rows": meta.rows,
        "seconds": round(elapsed, 3),
        "events_per_second": round(meta.rows / elapsed) if elapsed else None,
        "summary": summary.to_dict(instrument),
    }


# --- helpers ---------------------------------------------------------------------------------


def _instrument(
    detect: Callable[[list[Path]], tuple[str, str] | None], paths: list[Path], inst: dict[str, Any]
) -> Instrument:
    needs_detection = inst.get("instrument_file") is None and not (
        inst.get("venue") and inst.get("symbol")
    )
    try:
        detected = detect(paths) if needs_detection else None
        return resolve_instrument(detected, **inst)
    except HftlibError as exc:
        raise click.UsageError(f"{exc}\n{INSTRUMENT_HELP}") from exc


def _validated(
    chunks: Iterable[np.ndarray], *, repair: bool, strict: bool, name: str = "<events>"
) -> tuple[Iterator[np.ndarray], Any]:
    from hftlib.data.validate import ValidationReport, validate

    report = ValidationReport(path=name, strict=strict)
    return validate(chunks, report, repair=repair), report


def _repaired(
    open_chunks: Callable[[], Iterable[np.ndarray]],
    name: str,
    strict: bool,
    base_latency_ns: int,
    provenance: dict[str, Any],
) -> tuple[Iterator[np.ndarray], Any]:
    """Scan a stream, then yield it clock-shifted and repaired (two passes over its source).

    The scan measures the smallest feed latency; a negative one means the recorder's clock
    ran behind the venue's, corrected by one shift of every row (:mod:`hftlib.data.clock`).
    ``provenance`` receives the shift now and the final validation report at the end.
    """
    from hftlib.data.clock import clock_shift, shift_local_ts
    from hftlib.data.validate import ValidationReport, scan

    found = scan(open_chunks(), ValidationReport(path=name))
    shift = clock_shift(found.min_latency_ns, base_latency_ns)
    provenance["clock"] = {
        "local_ts_shift_ns": shift,
        "input_min_latency_ns": found.min_latency_ns,
        "input_negative_latency_rows": found.problems["negative_latency"],
    }
    chunks, report = _validated(
        shift_local_ts(open_chunks(), shift), repair=True, strict=strict, name=name
    )
    return _on_end(chunks, lambda: provenance.update(validation=report.to_dict())), report


def _write_repaired_conversion(
    chunks: Iterable[np.ndarray],
    output: Path,
    instrument: Instrument,
    provenance: dict[str, Any],
    strict: bool,
    base_latency_ns: int,
) -> tuple[Any, Any]:
    """Write converted chunks to a scratch npy beside ``output``, then repaired to ``output``."""
    from hftlib.data.storage import SIDECAR_SUFFIX, iter_events

    scratch = output.with_name(f".{output.name}.unrepaired.npy")
    try:
        _write(scratch, chunks, instrument, {})
        repaired, report = _repaired(
            lambda: iter_events(scratch), str(output), strict, base_latency_ns, provenance
        )
        meta = _write(output, repaired, instrument, provenance)
    finally:
        scratch.unlink(missing_ok=True)
        scratch.with_name(scratch.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
    return meta, report


def _on_end(chunks: Iterable[np.ndarray], callback: Callable[[], Any]) -> Iterator[np.ndarray]:
    yield from chunks
    callback()


def _write(
    output: Path, chunks: Iterable[np.ndarray], instrument: Instrument, provenance: dict[str, Any]
) -> Any:
    from hftlib.data.storage import write_events

    output.parent.mkdir(parents=True, exist_ok=True)
    return write_events(output, chunks, instrument, provenance)


def _reports(report: ConvertReport, validation: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"conversion": report.to_dict()}
    if validation is not None:
        out["validation"] = validation.to_dict()
    return out


def _describe_input(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _row_dict(row: np.void, instrument: Instrument) -> dict[str, Any]:
    return {
        "flags": describe_flags(int(row["flags"])),
        "exch_ts": int(row["exch_ts"]),
        "local_ts": int(row["local_ts"]),
        "px": int(row["px"]),
        "price": float(instrument.ticks_to_price(row["px"])),
        "qty": int(row["qty"]),
        "size": float(instrument.lots_to_size(row["qty"])),
        "order_id": int(row["order_id"]),
        "seq": int(row["seq"]),
        "aux": int(row["aux"]),
    }


# --- text output -----------------------------------------------------------------------------


def _convert_text(r: dict[str, Any]) -> str:
    conv = r["conversion"]
    lines = [
        f"wrote {r['rows']:,} events for {r['instrument']} to {r['output']} "
        f"in {r['seconds']} s ({r['rows_per_second'] or 0:,} rows/s)",
        f"input lines {conv['lines']:,}; skipped {conv['skipped_total']:,}; "
        f"gaps {conv['gaps']}; resyncs {conv['resyncs']}",
    ]
    lines += [f"  {k}: {v:,}" for k, v in conv["counts"].items()]
    lines += [f"  skipped {k}: {v:,}" for k, v in conv["skipped"].items()]
    lines += [f"  e.g. {e}" for e in conv["examples"][:5]]
    if r.get("clock", {}).get("local_ts_shift_ns"):
        c = r["clock"]
        lines.append(
            f"clock: recorder behind the venue (min feed latency "
            f"{c['input_min_latency_ns'] / 1e6:.3f} ms on "
            f"{c['input_negative_latency_rows']:,} rows): local_ts shifted by "
            f"+{c['local_ts_shift_ns'] / 1e6:.3f} ms"
        )
    if "validation" in r:
        lines.append(_validation_line(r["validation"]))
    return "\n".join(lines)


def _validation_line(v: dict[str, Any]) -> str:
    found = ", ".join(f"{k} {n:,}" for k, n in v["problems"].items() if n) or "no problems"
    fixed = ", ".join(f"{k} {n:,}" for k, n in v["repaired"].items() if n)
    return f"validation: {v['rows']:,} rows, {v['messages']:,} messages; {found}" + (
        f"; repaired {fixed}" if fixed else ""
    )


def _inspect_text(r: dict[str, Any]) -> str:
    meta, s = r["meta"], r["summary"]
    inst = meta["instrument"]
    lines = [
        f"{r['path']}: {s['rows']:,} events, {inst['venue']}:{inst['symbol']} ({inst['kind']}, "
        f"tick {inst['tick_size']}, lot {inst['lot_size']})",
        f"time {s['first_local_time']} -> {s['last_local_time']} ({s['span_seconds']} s, "
        f"{s['events_per_second']} ev/s, mean feed latency {s['mean_feed_latency_us']} us)",
        f"price {s.get('price_min')} .. {s.get('price_max')}; traded {s.get('trade_volume')}",
        "by kind: " + ", ".join(f"{k} {v:,}" for k, v in s["by_kind"].items()),
    ]
    src = meta["provenance"].get("converter") or meta["provenance"].get("generator")
    if src:
        lines.append(f"source: {src}")
    lines += [
        f"  {h['flags']:<22} local {h['local_ts']} px {h['price']} qty {h['size']} seq {h['seq']}"
        for h in r["head"]
    ]
    return "\n".join(lines)


def _validate_text(r: dict[str, Any]) -> str:
    out = []
    for f in r["files"]:
        n = f["total_problems"]
        out.append(f"{f['path']}: " + ("OK" if not n else f"{n:,} problem(s)"))
        out.append("  " + _validation_line(f))
        for name, examples in f.get("examples", {}).items():
            out += [f"  e.g. {name}: {e}" for e in examples[:3]]
    return "\n".join(out)


def _verify_text(r: dict[str, Any]) -> str:
    compared, matched = r.get("compared", 0), r.get("matched", 0)
    pct = f"{100.0 * matched / compared:.3f} %" if compared else "n/a"
    lines = [f"compared {compared:,}; matched {matched:,} ({pct})"]
    lines += [
        f"  {k}: {v}"
        for k, v in r.items()
        if k not in {"compared", "matched", "mismatches", "conversion"}
        and not isinstance(v, dict | list)
    ]
    lines += [f"  mismatch: {m}" for m in r.get("mismatches", [])[:20]]
    return "\n".join(lines)


def _synth_text(r: dict[str, Any]) -> str:
    s = r["summary"]
    return (
        f"wrote {r['rows']:,} synthetic events to {r['output']} in {r['seconds']} s "
        f"({r['events_per_second'] or 0:,} ev/s)\nby kind: "
        + ", ".join(f"{k} {v:,}" for k, v in s["by_kind"].items())
        + f"\nprice {s['price_min']} .. {s['price_max']}"
    )
