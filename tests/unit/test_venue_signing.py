"""Binance signing against the official vectors (venue-protocols.md §8.1)."""

from __future__ import annotations

from hftlib.venue.signing import (
    rest_query,
    sign_rest,
    sign_ws,
    signature_matches,
    ws_payload,
)

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # noqa: S105 (the public test vector of the Binance docs)
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
REST_TAIL = "&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
REST_TAIL += "&timestamp=1499827319559"


def test_rest_ascii_vector():
    query = "symbol=LTCBTC" + REST_TAIL
    assert sign_rest(SECRET, query) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_rest_non_ascii_vector_raw_and_encoded():
    expected = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    assert sign_rest(SECRET, "symbol=１２３４５６" + REST_TAIL) == expected
    encoded = "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96" + REST_TAIL
    assert sign_rest(SECRET, encoded) == expected


def test_rest_query_then_body_concatenate():
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert sign_rest(SECRET, query, body) == sign_rest(SECRET, query + body)


def test_rest_query_builds_the_signed_string():
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": 1,
        "price": 0.1,
        "recvWindow": 5000,
        "timestamp": 1499827319559,
    }
    assert rest_query(params) == "symbol=LTCBTC" + REST_TAIL
    assert rest_query({"reduceOnly": True}) == "reduceOnly=true"


def test_ws_vectors():
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": API_KEY,
    }
    assert ws_payload(params).startswith("apiKey=")
    assert sign_ws(SECRET, params) == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )
    params.update(symbol="１２３４５６", side="BUY", quantity="1.00000000", price="0.10000000")
    params.update(recvWindow=5000, signature="ignored")
    assert sign_ws(SECRET, params) == (
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
    )


def test_signature_matches_is_case_insensitive_and_strict():
    sig = sign_rest(SECRET, "symbol=LTCBTC" + REST_TAIL)
    assert signature_matches(sig, sig.upper())
    assert not signature_matches(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not signature_matches(sig, "")
    assert not signature_matches(sig, "é" * 64)
