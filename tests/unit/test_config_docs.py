"""The schemas are valid, describe every field, and docs/configuration.md shows them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hftlib.config import load_schema
from hftlib.config.docgen import BEGIN, END, main, render_all, updated

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def _fields(node: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in node.get("properties", {}).items():
        yield f"{where}.{name}", prop
        yield from _fields(prop, f"{where}.{name}")
        if isinstance(prop.get("items"), dict):
            yield from _fields(prop["items"], f"{where}.{name}[]")


@pytest.mark.parametrize("kind", ["production", "exchange", "strategy"])
def test_schema_is_valid_draft_2020_12_and_describes_every_field(kind: str) -> None:
    schema = load_schema(kind)  # type: ignore[arg-type]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    undocumented = [path for path, prop in _fields(schema, "$") if not prop.get("description")]
    assert undocumented == []


def test_field_tables_are_up_to_date() -> None:
    text = DOC.read_text()
    assert updated(text) == text, "run: python -m hftlib.config.docgen docs/configuration.md"
    assert main([str(DOC), "--check"]) == 0


def test_docgen_rewrites_a_stale_document(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n{END}\noutro\n")
    assert main([str(doc), "--check"]) == 1
    assert main([str(doc)]) == 0
    assert doc.read_text() == f"intro\n{render_all()}\noutro\n"
    assert main([str(doc), "--check"]) == 0
    assert "| `risk_limits.max_position_usd` | number, > 0, <= 1e12 | yes |" in doc.read_text()


def test_docgen_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="no"):
        updated("no markers here")
