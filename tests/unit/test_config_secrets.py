"""Secret references: resolution, and that no value ever shows in repr, str or errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hftlib.config.secrets import PLAIN_TEXT_SECRET, Dsn, SecretError, SecretRef, dsn_problem
from hftlib.errors import HftlibError

VALUE = "s3cr3t-Value-4f8a"


def test_env_reference_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCFG_SECRET", VALUE)
    ref = SecretRef("env:TCFG_SECRET")
    assert ref.kind == "env"
    assert ref.target == "TCFG_SECRET"
    assert ref.path is None
    assert ref.resolve() == VALUE
    assert ref.check() is None


def test_repr_and_str_show_the_reference_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCFG_SECRET", VALUE)
    ref = SecretRef("env:TCFG_SECRET")
    ref.resolve()
    assert repr(ref) == "SecretRef('env:TCFG_SECRET')"
    assert str(ref) == "env:TCFG_SECRET"
    assert VALUE not in repr(ref) + str(ref) + f"{ref!r} {ref}"


def test_unset_and_empty_env_name_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCFG_UNSET", raising=False)
    with pytest.raises(SecretError, match="env:TCFG_UNSET.*TCFG_UNSET is not set"):
        SecretRef("env:TCFG_UNSET").resolve()
    monkeypatch.setenv("TCFG_EMPTY", "  ")
    assert "is empty" in (SecretRef("env:TCFG_EMPTY").check() or "")


def test_file_reference_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "api.key").write_text(VALUE + "\n")
    ref = SecretRef("file:keys/api.key", tmp_path)
    assert ref.path == tmp_path / "keys" / "api.key"
    assert ref.resolve() == VALUE  # the editor's final newline is not part of the secret
    absolute = SecretRef(f"file:{tmp_path / 'keys' / 'api.key'}", "/elsewhere")
    assert absolute.resolve() == VALUE


def test_file_reference_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "k").write_text(VALUE)
    assert SecretRef("file:~/k", "/elsewhere").resolve() == VALUE


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_text(" \n"), "is empty"),
        (lambda p: p.write_bytes(b"\xff\xfe" + VALUE.encode()), "not UTF-8"),
        (lambda p: p.write_bytes(b"x" * (64 * 1024 + 1)), "larger than"),
        (lambda p: os.mkfifo(p), "not a regular file"),
    ],
    ids=["missing", "folder", "empty", "not-utf8", "too-large", "fifo"],
)
def test_unreadable_file_reference(tmp_path: Path, setup: object, reason: str) -> None:
    target = tmp_path / "secret.txt"
    setup(target)  # type: ignore[operator]
    ref = SecretRef("file:secret.txt", tmp_path)
    with pytest.raises(SecretError) as info:
        ref.resolve()
    assert reason in str(info.value)
    assert "file:secret.txt" in str(info.value)
    assert VALUE not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text(VALUE)
    target.chmod(0)
    assert "permission denied" in (SecretRef("file:secret.txt", tmp_path).check() or "")


@pytest.mark.parametrize("text", [VALUE, "", "ENV:X", " env:X", "secret:abc", "envX"])
def test_plain_text_is_refused_without_echo(text: str) -> None:
    with pytest.raises(SecretError) as info:
        SecretRef(text)
    assert str(info.value) == PLAIN_TEXT_SECRET
    assert isinstance(info.value, HftlibError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("env:", "environment variable name"),
        ("env:1ABC", "environment variable name"),
        ("env:A-B", "environment variable name"),
        ("file:", "needs a path"),
        ("file: x", "needs a path"),
    ],
)
def test_malformed_references(text: str, reason: str) -> None:
    with pytest.raises(SecretError, match=reason):
        SecretRef(text)


def test_non_string_reference_is_refused() -> None:
    with pytest.raises(SecretError, match="must be a string"):
        SecretRef(42)  # type: ignore[arg-type]


def test_equality_and_hash(tmp_path: Path) -> None:
    a = SecretRef("file:k", tmp_path)
    assert a == SecretRef("file:k", tmp_path)
    assert a != SecretRef("file:k", tmp_path / "other")
    assert len({a, SecretRef("file:k", tmp_path), SecretRef("env:K")}) == 2


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://hft_user@localhost:5432/hft_db",
        "postgres://localhost/db",
        "host=localhost dbname=hft_db user=hft_user",
    ],
)
def test_password_free_dsn_is_accepted(dsn: str) -> None:
    assert dsn_problem(dsn) is None
    d = Dsn(dsn)
    assert d.resolve() == dsn
    assert d.ref is None
    assert d.check() is None
    assert repr(d) == f"Dsn({dsn!r})"


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://hft_user:{VALUE}@localhost:5432/hft_db",
        f"host=localhost password={VALUE} dbname=x",
        f"password = {VALUE}",
    ],
)
def test_dsn_with_a_password_is_a_plain_text_secret(dsn: str) -> None:
    problem = dsn_problem(dsn)
    assert problem is not None
    assert problem.startswith(PLAIN_TEXT_SECRET)
    assert VALUE not in problem
    with pytest.raises(SecretError) as info:
        Dsn(dsn)
    assert VALUE not in str(info.value)


def test_dsn_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    full = f"postgresql://u:{VALUE}@h/db"
    monkeypatch.setenv("TCFG_DSN", full)
    d = Dsn("env:TCFG_DSN")
    assert d.resolve() == full
    assert VALUE not in repr(d) + str(d)
    monkeypatch.delenv("TCFG_DSN")
    assert "TCFG_DSN is not set" in (d.check() or "")


@pytest.mark.parametrize("dsn", ["localhost", "mysql://u@h/db"])
def test_not_a_dsn(dsn: str) -> None:
    assert "not a DSN" in (dsn_problem(dsn) or "")


def test_bad_url_dsn() -> None:
    assert "not a valid" in (dsn_problem("postgresql://[::1/db") or "")
