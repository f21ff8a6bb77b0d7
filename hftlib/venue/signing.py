"""Request signing shared by the Binance connector and the local Binance venue server.

Both sides import these functions, so a request the connector signs is checked by the
server with the very same canonical string (venue-protocols.md §1.5, §1.6, vectors §8.1).

- REST: the payload is the query string concatenated with the form body, with non-ASCII
  characters percent-encoded before signing.
- WS API: every parameter but ``signature``, sorted by name, joined as ``k=v&...`` with raw
  UTF-8 values.

Signatures are lowercase hex HMAC-SHA256; :func:`signature_matches` compares in constant
time and accepts either hex case, as Binance does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, urlencode

# characters Binance leaves as they are in a query string (RFC 3986 unreserved plus the
# separators of the query itself)
_QUERY_SAFE = "=&-._~"


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``payload`` under ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def rest_query(params: Mapping[str, object]) -> str:
    """Return ``params`` as a percent-encoded query string, in the given order."""
    return urlencode([(k, _text(v)) for k, v in params.items()], quote_via=quote)


def rest_payload(query: str, body: str = "") -> str:
    """Return the REST signature payload: query then body, non-ASCII percent-encoded."""
    return quote(query, safe=_QUERY_SAFE + "%") + quote(body, safe=_QUERY_SAFE + "%")


def sign_rest(secret: str, query: str, body: str = "") -> str:
    """Return the ``signature`` parameter for a REST request."""
    return hmac_sha256_hex(secret, rest_payload(query, body))


def ws_payload(params: Mapping[str, object]) -> str:
    """Return the WS API signature payload: every parameter but ``signature``, sorted."""
    return "&".join(f"{k}={_text(params[k])}" for k in sorted(params) if k != "signature")


def sign_ws(secret: str, params: Mapping[str, object]) -> str:
    """Return the ``signature`` parameter for a WS API request."""
    return hmac_sha256_hex(secret, ws_payload(params))


def signature_matches(expected: str, given: str) -> bool:
    """Compare two hex signatures in constant time, ignoring hex case."""
    return hmac.compare_digest(expected.lower().encode(), given.lower().encode("utf-8", "replace"))


def _text(value: object) -> str:
    """Render a parameter value the way Binance expects (booleans lowercase)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
