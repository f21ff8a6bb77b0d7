"""Check one configuration file on its own: JSON, schema, and rules within the file.

Rules that need no other file live here (a DSN with a password, a pool smaller than its
minimum, a repeated id in a list, an exchange file named differently from its id, an
order-size limit above the position limit, parameters the strategy type does not take).
Rules across files are in :mod:`hftlib.config.validate`. Every check reads the raw data
defensively, so a file with schema errors still gets every other check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hftlib.config.issues import ConfigIssue, dedupe, json_path, one_line
from hftlib.config.jsonfile import read_json
from hftlib.config.schema import Kind, describe, schema_issues
from hftlib.config.secrets import dsn_problem
from hftlib.config.strategy_types import parameter_problems, strategy_type
from hftlib.engine.strategy import StrategyError

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""The schema's pattern of a strategy type: only such names are ever imported."""


@dataclass
class FileResult:
    """One inspected file: its data and every problem found in it alone."""

    path: Path
    name: str
    """The file's name in issues."""
    data: Any
    parsed: bool
    issues: list[ConfigIssue] = field(default_factory=list)

    def get(self, *keys: str) -> Any:
        """Return ``data[k0][k1]...`` or None when any level is missing or not an object."""
        node = self.data
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    def issue(self, parts: tuple[str | int, ...], reason: str) -> None:
        """Add an issue at ``parts`` of this file."""
        self.issues.append(ConfigIssue(self.name, json_path(parts), one_line(reason)))


def inspect_file(kind: Kind, path: str | Path, name: str | None = None) -> FileResult:
    """Read ``path`` as a ``kind`` file and return it with every problem found in it.

    Parameters
    ----------
    kind : str
        ``production``, ``exchange`` or ``strategy``.
    path : str or Path
        The file.
    name : str, optional
        The file's name in issues. Default: ``str(path)``.
    """
    name = name if name is not None else str(path)
    doc = read_json(path, name)
    result = FileResult(Path(path), name, doc.data, doc.parsed, list(doc.issues))
    if not doc.parsed:
        return result
    result.issues += schema_issues(kind, doc.data, name, skip=doc.bad_paths)
    if isinstance(doc.data, dict):
        _RULES[kind](result)
    result.issues = dedupe(result.issues)
    return result


def string_items(value: Any) -> Iterator[tuple[int, str]]:
    """Yield ``(index, item)`` for the string items of ``value`` when it is a list."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield i, item


def number(value: Any) -> float | None:
    """Return ``value`` when it is a number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _repeats(result: FileResult, key: str, what: str) -> None:
    first: dict[str, int] = {}
    for i, item in string_items(result.get(key)):
        j = first.setdefault(item, i)
        if j != i:
            result.issue((key, i), f"duplicate {what} {describe(item)} (also at [{j}])")


def _production(result: FileResult) -> None:
    _repeats(result, "exchanges", "exchange id")
    _repeats(result, "strategies", "strategy")
    dsn = result.get("database", "dsn")
    if isinstance(dsn, str) and dsn:
        problem = dsn_problem(dsn)
        if problem is not None:
            result.issue(("database", "dsn"), problem)
    low, high = result.get("database", "pool_min_size"), result.get("database", "pool_max_size")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        result.issue(("database", "pool_max_size"), f"must be >= pool_min_size ({low}), got {high}")
    keys = result.get("api", "keys")
    first: dict[str, int] = {}
    if isinstance(keys, list):
        for i, entry in enumerate(keys):
            key_id = entry.get("key_id") if isinstance(entry, dict) else None
            if isinstance(key_id, str):
                j = first.setdefault(key_id, i)
                if j != i:
                    result.issue(
                        ("api", "keys", i, "key_id"),
                        f"duplicate key_id {describe(key_id)} (also at [{j}])",
                    )


def _exchange(result: FileResult) -> None:
    exchange_id = result.get("exchange_id")
    stem = result.path.stem
    if isinstance(exchange_id, str) and exchange_id != stem:
        result.issue(
            ("exchange_id",),
            f"exchange_id {describe(exchange_id)} differs from the file name "
            f"{describe(stem)}; name the file {exchange_id}.json",
        )


def _strategy(result: FileResult) -> None:
    size = number(result.get("risk_limits", "max_order_size_usd"))
    position = number(result.get("risk_limits", "max_position_usd"))
    if size is not None and position is not None and size > position:
        result.issue(
            ("risk_limits", "max_order_size_usd"),
            f"must be <= max_position_usd ({position:g}), got {size:g}",
        )
    type_name = result.get("type")
    if not isinstance(type_name, str) or not _TYPE_NAME.match(type_name):
        return  # the schema reports it
    try:
        strategy = strategy_type(type_name)
    except StrategyError as exc:
        result.issue(("type",), str(exc))
        return
    params = result.get("parameters")
    if isinstance(params, dict):
        for name, reason in parameter_problems(strategy, params):
            result.issue(("parameters", name), reason)


_RULES: dict[str, Callable[[FileResult], None]] = {
    "production": _production,
    "exchange": _exchange,
    "strategy": _strategy,
}
