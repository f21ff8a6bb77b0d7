"""The JSON Schemas of the three configuration files, and schema errors as issues.

The schemas in ``hftlib/config/schemas/`` are the single source of truth of the file
shapes; :mod:`hftlib.config.model` and ``docs/configuration.md`` follow them (tests keep
the three in step). Reasons are written here rather than taken from jsonschema, whose
messages quote the offending value: a value under a secret field (``"x-secret": true``) is
never quoted, and other values only as short scalars.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from hftlib.config.issues import ConfigIssue, dedupe, json_path
from hftlib.config.secrets import reference_problem

Kind = Literal["production", "exchange", "strategy"]
KINDS: tuple[Kind, ...] = ("production", "exchange", "strategy")

_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_SHOWN_CHARS = 40
"""Longest string value quoted in a reason."""

_FORMATS = FormatChecker(formats=())


def _is_uri(value: object) -> bool:
    # jsonschema's own "uri" check needs an optional package; scheme and host are what an
    # endpoint needs.
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


_FORMATS.checks("uri", raises=ValueError)(_is_uri)


@functools.cache
def load_schema(kind: Kind) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a ``production``, ``exchange`` or
    ``strategy`` file."""
    if kind not in KINDS:
        raise ValueError(f"unknown configuration kind {kind!r}; known: {', '.join(KINDS)}")
    text = resources.files("hftlib.config").joinpath("schemas", f"{kind}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(kind: Kind) -> Draft202012Validator:
    return Draft202012Validator(load_schema(kind), format_checker=_FORMATS)


def schema_issues(kind: Kind, data: Any, file: str, skip: Sequence[str] = ()) -> list[ConfigIssue]:
    """Return every schema violation of ``data`` as issues, in document order.

    Parameters
    ----------
    kind : str
        ``production``, ``exchange`` or ``strategy``.
    data : Any
        The parsed file.
    file : str
        The file's name in the issues.
    skip : sequence of str
        JSON paths already reported (e.g. a NaN): issues at or below them are left out.
    """
    found: list[tuple[tuple[int, ...], ConfigIssue]] = []
    try:
        for error in _validator(kind).iter_errors(data):
            for parts, reason in _explain(error):
                where = json_path(parts)
                if not any(_under(where, s) for s in skip):
                    found.append((_doc_order(data, parts), ConfigIssue(file, where, reason)))
    except RecursionError:
        return [ConfigIssue(file, "$", "nested too deeply to check")]
    found.sort(key=lambda item: item[0])
    return dedupe(issue for _key, issue in found)


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith((top + ".", top + "["))


def _doc_order(data: Any, parts: Sequence[str | int]) -> tuple[int, ...]:
    """Sort key that follows the file: each key's position in its object, missing keys last."""
    key: list[int] = []
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            key.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            key.append(part)
            node = node[part]
        else:
            key.append(1 << 30)
            node = None
    return tuple(key)


def describe(value: Any, secret: bool = False) -> str:
    """Name ``value`` for a reason: short scalars quoted, anything under a secret field not."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if secret:
        return _TYPE_NAMES["string" if isinstance(value, str) else "number"]
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 3] + "..."
        return json.dumps(shown)
    return json.dumps(value)


def _explain(error: ValidationError) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield ``(path parts, reason)`` for one jsonschema error (some give several issues)."""
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    secret = bool(schema.get("x-secret"))
    value = error.instance
    rule = error.validator
    limit = error.validator_value
    got = describe(value, secret)
    if "propertyNames" in error.relative_schema_path:
        # The instance is the key itself; report it where it stands.
        yield (*path, str(value)), f"key {describe(value)} is not a valid name"
    elif rule == "required" and isinstance(value, dict):
        for name in limit:
            if name not in value:
                yield (*path, name), "required field is missing"
    elif rule == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        for name in value:
            if name not in known:
                yield (*path, name), f"unknown field; known fields: {', '.join(known)}"
    elif rule == "uniqueItems" and isinstance(value, list):
        firsts: dict[tuple[str, Any], int] = {}
        repeats = 0
        for i, item in enumerate(value):
            first = firsts.setdefault(_unique_key(item), i)
            if first != i:
                repeats += 1
                yield (*path, i), f"repeats item [{first}] ({describe(item, secret)})"
        if not repeats:
            yield path, "has repeated items"
    elif rule == "type":
        wanted = [limit] if isinstance(limit, str) else list(limit)
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        yield path, f"must be {names}, got {got}"
    elif rule == "pattern":
        if secret and isinstance(value, str):
            yield path, reference_problem(value) or "not a valid secret reference"
        else:
            rule_text = schema.get("x-pattern-help") or f"a match of {limit}"
            yield path, f"must be {rule_text}, got {got}"
    else:
        yield path, _bound_reason(rule, limit, got, schema)


def _bound_reason(rule: str, limit: Any, got: str, schema: dict[str, Any]) -> str:
    simple = {
        "minimum": f"must be >= {limit}",
        "exclusiveMinimum": f"must be > {limit}",
        "maximum": f"must be <= {limit}",
        "exclusiveMaximum": f"must be < {limit}",
        "minLength": "must not be empty"
        if limit == 1
        else f"must have at least {limit} characters",
        "maxLength": f"must have at most {limit} characters",
        "minItems": "must list at least one item" if limit == 1 else f"needs >= {limit} items",
        "maxItems": f"must list at most {limit} items",
        "format": f"must be a valid {'URL' if limit == 'uri' else limit}",
    }
    if rule in ("enum", "const"):
        options = limit if rule == "enum" else [limit]
        return f"must be one of {', '.join(json.dumps(o) for o in options)}, got {got}"
    if rule in simple:
        if rule in ("minLength", "maxLength", "minItems", "maxItems"):
            return simple[rule]
        return f"{simple[rule]}, got {got}"
    return f"breaks the schema rule {rule!r}" + (
        f" ({schema['description']})" if "description" in schema else ""
    )


def _unique_key(item: Any) -> tuple[str, Any]:
    """Key under which two JSON values are equal: 1 equals 1.0, but not true."""
    if isinstance(item, bool):
        return ("bool", item)
    if isinstance(item, int | float | str) or item is None:
        return ("scalar", item)
    return ("json", json.dumps(item, sort_keys=True))
