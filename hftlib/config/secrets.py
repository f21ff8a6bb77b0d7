"""Secret references: configuration names where a secret lives, never the secret itself.

A secret field holds ``env:NAME`` (the environment variable ``NAME``) or ``file:PATH`` (a
file holding only the secret; a relative ``PATH`` is relative to the configuration file that
names it, ``~`` is the home folder). :meth:`SecretRef.resolve` reads the value when it is
needed; a :class:`SecretRef` never stores it, so its ``repr``, ``str`` and every error it
raises can only show the reference.

A database DSN may also be written inline when it carries no password (:class:`Dsn`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from hftlib.errors import HftlibError

PLAIN_TEXT_SECRET = "plain-text secret: use env:NAME or file:PATH"  # noqa: S105 - a message
"""Reason given for a secret written in clear in a configuration file."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SECRET_BYTES = 64 * 1024
"""Largest secret file read: a key file is a few hundred bytes; more is a wrong path."""


class SecretError(HftlibError, ValueError):
    """A secret reference is malformed or cannot be read; the message names the reference."""


def reference_problem(text: str) -> str | None:
    """Return why ``text`` is not a valid secret reference, or None when it is one.

    The reason never repeats ``text``: a malformed reference may be a pasted secret.
    """
    if text.startswith("env:"):
        if not _ENV_NAME.match(text[4:]):
            return (
                "secret reference env:NAME needs an environment variable name "
                "(letters, digits and _, not starting with a digit)"
            )
        return None
    if text.startswith("file:"):
        if not text[5:].strip() or text[5:] != text[5:].lstrip():
            return "secret reference file:PATH needs a path right after file:"
        return None
    return PLAIN_TEXT_SECRET


class SecretRef:
    """A reference to a secret: ``env:NAME`` or ``file:PATH``.

    Parameters
    ----------
    text : str
        The reference as written in the configuration.
    base_dir : str or Path, optional
        Folder that a relative ``file:`` path is relative to (the configuration file's
        folder). Default: the current directory.

    Raises
    ------
    SecretError
        ``text`` is not a reference (for instance a plain-text secret).
    """

    __slots__ = ("_base_dir", "_text")

    def __init__(self, text: str, base_dir: str | Path | None = None) -> None:
        if not isinstance(text, str):
            raise SecretError(f"a secret reference must be a string, got {type(text).__name__}")
        problem = reference_problem(text)
        if problem is not None:
            raise SecretError(problem)
        self._text = text
        self._base_dir = Path(base_dir) if base_dir is not None else None

    @property
    def kind(self) -> str:
        """``"env"`` or ``"file"``."""
        return self._text.partition(":")[0]

    @property
    def target(self) -> str:
        """The variable name or the path as written."""
        return self._text.partition(":")[2]

    @property
    def path(self) -> Path | None:
        """The file a ``file:`` reference reads (resolved against ``base_dir``), else None."""
        return self._file_path() if self.kind == "file" else None

    def _file_path(self) -> Path:
        path = Path(self.target).expanduser()
        if not path.is_absolute() and self._base_dir is not None:
            path = self._base_dir / path
        return path

    def resolve(self) -> str:
        """Return the secret's value.

        Raises
        ------
        SecretError
            The variable is unset or empty, or the file is missing, unreadable, too large,
            not UTF-8 or empty. The message names the reference, never a value.
        """
        if self.kind == "env":
            value = os.environ.get(self.target)
            if value is None:
                raise self._unreadable(f"environment variable {self.target} is not set")
            if not value.strip():
                raise self._unreadable(f"environment variable {self.target} is empty")
            return value
        path = self._file_path()
        # A FIFO or device would block or never end: only regular files hold secrets.
        if path.exists() and not path.is_file() and not path.is_dir():
            raise self._unreadable(f"{path} is not a regular file")
        try:
            with path.open("rb") as fh:
                raw = fh.read(_MAX_SECRET_BYTES + 1)
        except FileNotFoundError:
            raise self._unreadable(f"file {path} does not exist") from None
        except IsADirectoryError:
            raise self._unreadable(f"{path} is a folder, not a file") from None
        except PermissionError:
            raise self._unreadable(f"file {path} is not readable (permission denied)") from None
        except OSError as exc:
            raise self._unreadable(f"file {path} cannot be read ({exc.strerror})") from None
        if len(raw) > _MAX_SECRET_BYTES:
            raise self._unreadable(f"file {path} is larger than {_MAX_SECRET_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._unreadable(f"file {path} is not UTF-8 text") from None
        # Editors add a final newline; a secret never starts or ends with whitespace.
        value = text.strip()
        if not value:
            raise self._unreadable(f"file {path} is empty")
        return value

    def _unreadable(self, why: str) -> SecretError:
        return SecretError(f"secret {self} cannot be read: {why}")

    def check(self) -> str | None:
        """Return why the secret cannot be read, or None when :meth:`resolve` would work."""
        try:
            self.resolve()
        except SecretError as exc:
            return str(exc)
        return None

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"SecretRef({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretRef):
            return NotImplemented
        return (self._text, self.path) == (other._text, other.path)

    def __hash__(self) -> int:
        return hash((self._text, self.path))


def dsn_problem(text: str) -> str | None:
    """Return why ``text`` is neither a secret reference nor a password-free DSN, or None.

    A URL DSN (``postgresql://user@host:5432/db``) must not carry a password; a key/value
    DSN (``host=... dbname=...``) must not have ``password=``. The reason never repeats
    ``text``.
    """
    if text.startswith(("env:", "file:")):
        return reference_problem(text)
    if text.startswith(("postgresql://", "postgres://")):
        try:
            password = urlsplit(text).password
        except ValueError:
            return "not a valid postgresql:// URL"
        if password is not None:
            return f"{PLAIN_TEXT_SECRET} (the DSN has a password; reference the whole DSN)"
        return None
    if "=" in text:
        if re.search(r"(^|\s)password\s*=", text):
            return f"{PLAIN_TEXT_SECRET} (the DSN has a password; reference the whole DSN)"
        return None
    return (
        "not a DSN: give postgresql://user@host:port/db, host=... dbname=..., "
        "or a secret reference env:NAME / file:PATH"
    )


class Dsn:
    """A database DSN: a :class:`SecretRef` or an inline DSN without a password.

    Parameters
    ----------
    text : str
        As written in the configuration.
    base_dir : str or Path, optional
        Folder a relative ``file:`` reference is relative to.

    Raises
    ------
    SecretError
        ``text`` is neither (for instance a DSN with a password in it).
    """

    __slots__ = ("_text", "ref")

    def __init__(self, text: str, base_dir: str | Path | None = None) -> None:
        if not isinstance(text, str):
            raise SecretError(f"a DSN must be a string, got {type(text).__name__}")
        problem = dsn_problem(text)
        if problem is not None:
            raise SecretError(problem)
        self._text = text
        self.ref: SecretRef | None = (
            SecretRef(text, base_dir) if text.startswith(("env:", "file:")) else None
        )

    def resolve(self) -> str:
        """Return the DSN to connect with (reading the secret when it is a reference)."""
        return self.ref.resolve() if self.ref is not None else self._text

    def check(self) -> str | None:
        """Return why the DSN cannot be read, or None."""
        return self.ref.check() if self.ref is not None else None

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Dsn({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dsn):
            return NotImplemented
        return (self._text, self.ref) == (other._text, other.ref)

    def __hash__(self) -> int:
        return hash((self._text, self.ref))
