"""Binance API credentials: resolution from secret references, signing, redacted repr.

A :class:`Credentials` holds an API key and its secret and signs request payloads; the
payloads themselves come from :mod:`hftlib.venue.signing` (REST: query then body; WS API:
sorted parameters), the same functions the local venue server checks with.

Two key types:

``hmac``
    The secret is a string; the signature is the lowercase hex HMAC-SHA256 of the payload.
``ed25519`` (optional)
    The secret is a PKCS#8 PEM private key; the signature is the base64 Ed25519 signature
    of the payload. It needs the ``cryptography`` package, imported only when such a key is
    loaded, so HMAC users do not depend on it.

Secrets are resolved here, never in the configuration (STYLE §3.15): :func:`env_names`
names the environment variables of a market in one place, :meth:`Credentials.from_refs`
reads :class:`hftlib.config.secrets.SecretRef` references. ``repr`` and ``str`` show only
the first four characters of the key and never the secret.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any, Final, Literal

from hftlib.venues.binance.constants import Market

from hftlib.config.secrets import SecretRef
from hftlib.venue.signing import hmac_sha256_hex, rest_payload, ws_payload

KeyType = Literal["hmac", "ed25519"]
HMAC: Final = "hmac"
ED25519: Final = "ed25519"

_ENV_PREFIX: Final = {Market.SPOT: "BINANCE", Market.USDM: "BINANCE_USDM"}


def env_names(market: Market) -> tuple[str, str]:
    """Return the environment variables holding ``market``'s API key and secret."""
    prefix = _ENV_PREFIX[Market(market)]
    return f"{prefix}_API_KEY", f"{prefix}_API_SECRET"


class CredentialsError(ValueError):
    """A key or secret is unusable (empty, not a PEM Ed25519 key, no ``cryptography``)."""


class Credentials:
    """A Binance API key with its secret, able to sign request payloads.

    Parameters
    ----------
    api_key : str
        The key sent in ``X-MBX-APIKEY`` (REST) or ``apiKey`` (WS API).
    secret : str
        The HMAC secret, or the PKCS#8 PEM private key of an Ed25519 key.
    key_type : {"hmac", "ed25519"}
        How ``secret`` signs. Default ``"hmac"``.
    """

    __slots__ = ("_secret", "_signer", "api_key", "key_type")

    def __init__(self, api_key: str, secret: str, key_type: KeyType = HMAC) -> None:
        if not api_key or not secret:
            raise CredentialsError("an API key and its secret must both be non-empty")
        if key_type not in (HMAC, ED25519):
            raise CredentialsError(f"unknown key type {key_type!r} (hmac or ed25519)")
        self.api_key = api_key
        self.key_type: KeyType = key_type
        self._secret = secret
        self._signer: Any = _ed25519_key(secret) if key_type == ED25519 else None

    @classmethod
    def from_refs(
        cls, api_key: SecretRef, secret: SecretRef, key_type: KeyType = HMAC
    ) -> Credentials:
        """Resolve two secret references (``env:NAME`` / ``file:PATH``)."""
        return cls(api_key.resolve(), secret.resolve(), key_type)

    @classmethod
    def from_env(
        cls,
        market: Market,
        environ: Mapping[str, str] | None = None,
        key_type: KeyType = HMAC,
    ) -> Credentials:
        """Read ``market``'s key and secret from the variables of :func:`env_names`."""
        environ = os.environ if environ is None else environ
        key_name, secret_name = env_names(market)
        missing = [n for n in (key_name, secret_name) if not environ.get(n)]
        if missing:
            raise CredentialsError(f"environment variables not set: {', '.join(missing)}")
        return cls(environ[key_name], environ[secret_name], key_type)

    @property
    def api_key_masked(self) -> str:
        """Return the key's first four characters followed by ``...``."""
        return f"{self.api_key[:4]}..." if len(self.api_key) > 8 else "***"

    def sign(self, payload: str) -> str:
        """Return the signature of ``payload`` (hex HMAC, or base64 Ed25519)."""
        if self._signer is None:
            return hmac_sha256_hex(self._secret, payload)
        return base64.b64encode(self._signer.sign(payload.encode())).decode()

    def sign_rest(self, query: str, body: str = "") -> str:
        """Return the ``signature`` parameter of a REST request."""
        return self.sign(rest_payload(query, body))

    def sign_ws(self, params: Mapping[str, object]) -> str:
        """Return the ``signature`` parameter of a WS API request."""
        return self.sign(ws_payload(params))

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key_masked!r}, secret=***, {self.key_type})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # pickling would write the secret to wherever the pickle goes
        raise TypeError("Credentials are not picklable (they hold a secret)")


def _ed25519_key(pem: str) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:  # pragma: no cover - cryptography ships with the venv
        raise CredentialsError("Ed25519 keys need the 'cryptography' package") from None
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise CredentialsError("the Ed25519 secret is not a PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CredentialsError(f"the PEM key is {type(key).__name__}, not Ed25519")
    return key
