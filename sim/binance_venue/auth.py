"""Authentication of signed requests: API key, HMAC signature, timestamp and recvWindow.

The signature payloads come from :mod:`hftlib.venue.signing`, the module the connector signs
with: REST signs the query string concatenated with the body (``signature`` left out), the WS
API the sorted parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.config import AccountConfig

from hftlib.venue.signing import hmac_sha256_hex, rest_payload, signature_matches, ws_payload

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000
_KEY = re.compile(r"^[A-Za-z0-9]{1,128}$")


def account_for_key(api_key: str | None, accounts: Mapping[str, AccountConfig]) -> AccountConfig:
    """Return the account of an API key; raise -2014 (bad format) or -2015 (unknown)."""
    if not api_key or not _KEY.match(api_key):
        raise E.ApiError(E.BAD_API_KEY_FMT, E.MSG_BAD_KEY_FMT, status=401)
    account = accounts.get(api_key)
    if account is None:
        raise E.ApiError(E.REJECTED_MBX_KEY, E.MSG_BAD_KEY, status=401)
    return account


def strip_signature(params: str) -> tuple[str, str | None]:
    """Split ``signature=...`` out of a query string or body; return ``(rest, signature)``."""
    if "signature=" not in params:
        return params, None
    kept, sig = [], None
    for part in params.split("&"):
        if part.startswith("signature="):
            sig = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), sig


def check_rest_signature(account: AccountConfig, query: str, body: str) -> None:
    """Check a REST request's signature (in the query or the body); raise -1102/-1022."""
    query, sig_q = strip_signature(query)
    body, sig_b = strip_signature(body)
    sig = sig_q if sig_q is not None else sig_b
    if not sig:
        raise E.missing("signature")
    expected = hmac_sha256_hex(account.secret, rest_payload(query, body))
    if not signature_matches(expected, sig):
        raise E.ApiError(E.INVALID_SIGNATURE, E.MSG_BAD_SIGNATURE)


def check_ws_signature(account: AccountConfig, params: Mapping[str, object]) -> None:
    """Check a WS API request's signature over its sorted parameters; raise -1102/-1022."""
    sig = params.get("signature")
    if not isinstance(sig, str) or not sig:
        raise E.missing("signature")
    expected = hmac_sha256_hex(account.secret, ws_payload(params))
    if not signature_matches(expected, sig):
        raise E.ApiError(E.INVALID_SIGNATURE, E.MSG_BAD_SIGNATURE)


def check_timestamp(params: Mapping[str, object], server_ms: int) -> None:
    """Apply Binance's timestamp rules; raise -1102, -1131 or -1021.

    Accepted when ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <=
    recvWindow``. A 16-digit timestamp is read as microseconds.
    """
    raw = params.get("timestamp")
    try:
        ts = int(str(raw))
    except ValueError:
        raise E.missing("timestamp") from None
    if ts > 10**15:
        ts //= 1000
    window_raw = params.get("recvWindow")
    window = float(DEFAULT_RECV_WINDOW)
    if window_raw is not None:
        try:
            window = float(str(window_raw))
        except ValueError:
            raise E.illegal("recvWindow", "^[0-9]{1,5}(\\.[0-9]{1,3})?$") from None
        if not 0 < window <= MAX_RECV_WINDOW:
            raise E.ApiError(E.BAD_RECV_WINDOW, "recvWindow must be less than 60000")
    if ts >= server_ms + 1000:
        raise E.ApiError(E.INVALID_TIMESTAMP, E.MSG_AHEAD)
    if server_ms - ts > window:
        raise E.ApiError(E.INVALID_TIMESTAMP, E.MSG_OUTSIDE_WINDOW)
