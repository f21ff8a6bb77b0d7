"""Credentials (signing vectors, redaction, env and file references, Ed25519) and the factory."""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
from pathlib import Path

import pytest
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.credentials import Credentials, CredentialsError, env_names
from hftlib.venues.binance.factory import build_venue, config_limits, config_urls

from hftlib.config.model import load_exchange
from hftlib.config.secrets import SecretRef
from hftlib.venue.ratelimit import ORDERS, REQUEST_WEIGHT

from .client_support import KEY, SECRET, local_venue, script

CONFIG = Path(__file__).resolve().parents[3] / "config" / "exchanges"

# venue-protocols.md §8.1
REST_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
REST_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
WS_PARAMS = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01000000",
    "price": "52000.00",
    "recvWindow": 100,
    "timestamp": 1645423376532,
    "apiKey": KEY,
}
WS_SIG = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_hmac_signatures_match_the_official_vectors() -> None:
    creds = Credentials(KEY, SECRET)
    assert creds.sign_rest(REST_PAYLOAD) == REST_SIG
    assert creds.sign_rest("", REST_PAYLOAD) == REST_SIG  # the same payload in the body
    assert creds.sign_ws(WS_PARAMS) == WS_SIG


def test_secret_never_shows() -> None:
    creds = Credentials(KEY, SECRET)
    for text in (repr(creds), str(creds), f"{creds}"):
        assert SECRET not in text
        assert KEY not in text
        assert "vmPU..." in text
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(creds)
    with pytest.raises(CredentialsError):
        Credentials(KEY, "")


def test_resolution_from_env_and_file_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert env_names(Market.SPOT) == ("BINANCE_API_KEY", "BINANCE_API_SECRET")
    assert env_names(Market.USDM) == ("BINANCE_USDM_API_KEY", "BINANCE_USDM_API_SECRET")
    env = {"BINANCE_USDM_API_KEY": KEY, "BINANCE_USDM_API_SECRET": SECRET}
    assert Credentials.from_env(Market.USDM, env).sign_rest(REST_PAYLOAD) == REST_SIG
    with pytest.raises(CredentialsError, match="BINANCE_API_KEY"):
        Credentials.from_env(Market.SPOT, {})
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    monkeypatch.setenv("HFT_TEST_KEY", KEY)
    creds = Credentials.from_refs(
        SecretRef("env:HFT_TEST_KEY"), SecretRef("file:secret.txt", tmp_path)
    )
    assert creds.sign_rest(REST_PAYLOAD) == REST_SIG


def test_ed25519_keys_are_an_optional_signing_path() -> None:
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    ser = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    private = ed.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    ).decode()
    creds = Credentials("edkey", pem, key_type="ed25519")
    signature = base64.b64decode(creds.sign_rest(REST_PAYLOAD))
    private.public_key().verify(signature, REST_PAYLOAD.encode())  # raises if wrong
    assert pem not in repr(creds)
    with pytest.raises(CredentialsError, match="PEM"):
        Credentials("edkey", SECRET, key_type="ed25519")


def test_factory_reads_the_shipped_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    spot = build_venue(load_exchange(CONFIG / "binance.json"))
    assert (spot.market, spot.name) == (Market.SPOT, "binance")
    assert sorted(spot.instruments) == ["BTCUSDT", "ETHUSDT"]
    assert spot.urls.ws_api == "wss://ws-api.binance.com:443/ws-api/v3"  # the live venue's
    usdm_config = load_exchange(CONFIG / "binance_usdm.json")
    limits = {(lim.kind, lim.interval_ns): lim.limit for lim in config_limits(usdm_config)}
    assert limits[(REQUEST_WEIGHT, 60_000_000_000)] == 2400
    assert limits[(ORDERS, 1_000_000_000)] == 20
    assert config_urls(usdm_config).routed


def test_factory_venue_talks_to_the_local_server(tmp_path: Path) -> None:
    async def main() -> None:
        async with local_venue(tmp_path, "spot", script("spot", 5)) as server:
            raw = json.loads((CONFIG / "binance.json").read_text())
            raw["endpoints"] = {"rest": server.rest_url, "websocket": server.ws_url}
            raw["symbols"] = ["BTC-USDT"]
            (tmp_path / "binance.json").write_text(json.dumps(raw))
            config = load_exchange(tmp_path / "binance.json")
            venue = build_venue(config, credentials=Credentials(KEY, SECRET))
            assert venue.urls.ws_api == server.ws_api_url  # derived from the websocket host
            async with venue:
                await asyncio.wait_for(venue.subscribed.wait(), 3)  # spot WS API user data
                assert {b.asset for b in await venue.balances()} == {"BTC", "USDT"}

    asyncio.run(main())
