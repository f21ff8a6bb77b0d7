"""Configuration problems: one :class:`ConfigIssue` per problem, all raised together."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hftlib.errors import HftlibError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem in one configuration file.

    Parameters
    ----------
    file : str
        The file, as the caller named it (relative paths stay relative).
    json_path : str
        Where in the file, as a JSON path (``$`` is the whole document,
        ``$.risk_limits.max_position_usd``, ``$.symbols[1]``).
    reason : str
        What is wrong, on one line. Never contains a secret's value.
    """

    file: str
    json_path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.json_path}: {self.reason}"


class ConfigError(HftlibError, ValueError):
    """A configuration is invalid; :attr:`issues` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        n = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{n} configuration error{'s' if n != 1 else ''}:\n{lines}")


def json_path(parts: Iterable[str | int]) -> str:
    """Return the JSON path of ``parts`` (keys and list indices), e.g. ``$.a[0].b``.

    Keys that are not plain identifiers are written as ``["key"]`` (JSON-quoted), so every
    path reads back unambiguously.
    """
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def one_line(text: str) -> str:
    """Return ``text`` on a single line (reasons are printed one per line)."""
    return " ".join(text.split())


def dedupe(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Return ``issues`` without repeats, first occurrence first."""
    seen: set[ConfigIssue] = set()
    out: list[ConfigIssue] = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    return out
