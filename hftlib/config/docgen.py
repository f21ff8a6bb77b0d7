"""Write the field tables of ``docs/configuration.md`` from the JSON Schemas.

The tables sit between two markers in the document and are regenerated, never edited by
hand; a test fails when they differ from the schemas::

    python -m hftlib.config.docgen docs/configuration.md          # rewrite the tables
    python -m hftlib.config.docgen docs/configuration.md --check  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hftlib.config.schema import KINDS, Kind, load_schema

BEGIN = "<!-- BEGIN GENERATED FIELD TABLES (python -m hftlib.config.docgen) -->"
END = "<!-- END GENERATED FIELD TABLES -->"
_TAG_START = re.compile(r"<(?=[A-Za-z/!])")
_FILES = {
    "production": "production.json",
    "exchange": "exchanges/<exchange_id>.json",
    "strategy": "strategies/<strategy_id>.json",
}


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Merge a local ``$ref`` target under the node's own keys (its description wins)."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return node
    target = root["$defs"][ref.removeprefix("#/$defs/")]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _number(value: Any) -> str:
    """Write a bound: powers of ten from a million up as 1e6, others as they are."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if isinstance(value, int) and value >= 1_000_000 and text.strip("0") == "1":
        return f"1e{len(text) - 1}"
    return text


def _cell(text: str) -> str:
    """Escape a table cell: ``|`` splits cells, and ``<id>`` would read as an HTML tag."""
    return _TAG_START.sub("&lt;", text.replace("|", "\\|"))


def _type_text(node: dict[str, Any], root: dict[str, Any]) -> str:
    """Return the type and its constraints, e.g. ``integer, >= 1, <= 65535``."""
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    if kinds == ["array"]:
        items = _resolve(node.get("items", {}), root)
        inner = "objects" if items.get("type") == "object" else _type_text(items, root)
        text = f"list of {inner}"
    else:
        text = " or ".join(kinds)
    if node.get("x-secret"):
        text += " (secret reference)" if "pattern" in node else " (secret reference or DSN)"
    elif "x-pattern-help" in node:
        text += f": {node['x-pattern-help']}"
    bounds = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            bounds.append(f"{sign} {_number(node[key])}")
    if bounds:
        text += ", " + ", ".join(bounds)
    if node.get("minItems") == 1:
        text += ", at least one"
    if node.get("uniqueItems"):
        text += ", no repeats"
    return text


def _rows(
    node: dict[str, Any], root: dict[str, Any], prefix: str
) -> Iterator[tuple[str, str, str, str, str]]:
    required = set(node.get("required", ()))
    for name, raw in node.get("properties", {}).items():
        if name == "$schema":
            continue
        field = _resolve(raw, root)
        path = f"{prefix}{name}"
        default = json.dumps(field["default"]) if "default" in field else ""
        yield (
            f"`{path}`",
            _type_text(field, root),
            "yes" if name in required else "",
            f"`{default}`" if default else "",
            field.get("description", ""),
        )
        if field.get("type") == "object" and "properties" in field:
            yield from _rows(field, root, f"{path}.")
        items = _resolve(field.get("items", {}), root)
        if field.get("type") == "array" and items.get("type") == "object":
            yield from _rows(items, root, f"{path}[].")


def render(kind: Kind) -> str:
    """Return the Markdown section (heading, description, field table) of one file kind."""
    schema = load_schema(kind)
    lines = [
        f"### `{_FILES[kind]}`",
        "",
        _cell(schema["description"]),
        "",
        "| Field | Type | Required | Default | Description |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        "| " + " | ".join(_cell(cell) for cell in row) + " |" for row in _rows(schema, schema, "")
    )
    return "\n".join(lines) + "\n"


def render_all() -> str:
    """Return every section, between the markers."""
    body = "\n".join(render(kind) for kind in KINDS)
    return f"{BEGIN}\n\n{body}\n{END}"


def updated(text: str) -> str:
    """Return ``text`` with the generated block replaced by the current tables."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} block")
    return text[:start] + render_all() + text[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` compare) the tables of a document; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m hftlib.config.docgen")
    parser.add_argument("document", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 if the tables are stale")
    args = parser.parse_args(argv)
    text = args.document.read_text()
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{args.document}: field tables are stale; run python -m hftlib.config.docgen")
            return 1
        return 0
    if new != text:
        args.document.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
