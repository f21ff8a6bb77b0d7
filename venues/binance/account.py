"""Binance account payloads and symbol rules: balances, positions, exchangeInfo.

- :func:`spot_balances`, :func:`futures_balances`, :func:`account_position_balances` ->
  :class:`hftlib.venue.interface.Balance` (zero balances left out).
- :func:`positions` (USD-M ``positionRisk``) -> :class:`hftlib.venue.interface.Position`,
  plus the symbols holding a position that no given instrument covers (never dropped
  silently: the caller decides).
- :func:`symbol_rules` (``exchangeInfo``) -> :class:`SymbolRules` per symbol, and
  :func:`check_instrument`, which lists every difference between the venue's tick/step and
  an :class:`~hftlib.instrument.Instrument` spec (trading on a wrong grid is refused).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from hftlib.venues.binance import schemas as sc
from hftlib.venues.binance.constants import VENUE_NAMES, Market
from hftlib.venues.binance.decoding import decimal, decode, error, size_lots

from hftlib.instrument import Instrument, InstrumentKind
from hftlib.venue.interface import Balance, Position

_SPOT_ACCOUNT: Final = msgspec.json.Decoder(sc.SpotAccount)
_FUT_BALANCES: Final = msgspec.json.Decoder(list[sc.FuturesBalance])
_POSITIONS: Final = msgspec.json.Decoder(list[sc.PositionRisk])
_ACCOUNT_POSITION: Final = msgspec.json.Decoder(sc.AccountPosition)
_ACCOUNT_UPDATE: Final = msgspec.json.Decoder(sc.AccountUpdate)
_EXCHANGE_INFO: Final = msgspec.json.Decoder(sc.ExchangeInfo)

_FILTERS: Final = {
    "PRICE_FILTER": sc.PriceFilter,
    "LOT_SIZE": sc.LotSize,
    "MIN_NOTIONAL": sc.NotionalFilter,
    "NOTIONAL": sc.NotionalFilter,
}


class SymbolRules(msgspec.Struct, frozen=True, kw_only=True):
    """The trading rules of one symbol, as the venue publishes them."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    tick_size: float
    step_size: float
    min_notional: float = 0.0
    contract_type: str | None = None


# --- balances and positions -------------------------------------------------------------------


def spot_balances(raw: bytes) -> list[Balance]:
    """Return the non-zero balances of ``GET /api/v3/account``."""
    acct = decode(_SPOT_ACCOUNT, raw, Market.SPOT, "account")
    return _balances(
        ((b.asset, b.free, b.locked) for b in acct.balances), Market.SPOT, "$.balances"
    )


def futures_balances(raw: bytes) -> list[Balance]:
    """Return the non-zero balances of ``GET /fapi/v2/balance``.

    ``free`` is the available balance; ``locked`` the rest of the wallet balance (margin in
    use and open-order margin).
    """
    rows = decode(_FUT_BALANCES, raw, Market.USDM, "balance")
    out = []
    for i, b in enumerate(rows):
        wallet_text = b.balance if b.balance is not None else b.wallet_balance
        if wallet_text is None:
            raise error(Market.USDM, "balance", f"$[{i}].balance", "no wallet balance")
        wallet = decimal(wallet_text, Market.USDM, "balance", f"$[{i}].balance")
        free = decimal(b.available_balance, Market.USDM, "balance", f"$[{i}].availableBalance")
        if wallet or free:
            out.append(Balance(asset=b.asset, free=free, locked=max(0.0, wallet - free)))
    return out


def account_position_balances(raw: bytes) -> list[Balance]:
    """Return the balances of a spot ``outboundAccountPosition`` event (all it lists)."""
    msg = decode(_ACCOUNT_POSITION, raw, Market.SPOT, "outboundAccountPosition")
    if msg.event != "outboundAccountPosition":
        raise error(Market.SPOT, "outboundAccountPosition", "$.e", f"event {msg.event[:40]!r}")
    return [
        Balance(
            asset=b.asset,
            free=decimal(b.free, Market.SPOT, "outboundAccountPosition", f"$.B[{i}].f"),
            locked=decimal(b.locked, Market.SPOT, "outboundAccountPosition", f"$.B[{i}].l"),
        )
        for i, b in enumerate(msg.balances)
    ]


def _balances(rows: Any, market: Market, where: str) -> list[Balance]:
    out = []
    for i, (asset, free_text, locked_text) in enumerate(rows):
        free = decimal(free_text, market, "account", f"{where}[{i}].free")
        locked = decimal(locked_text, market, "account", f"{where}[{i}].locked")
        if free or locked:
            out.append(Balance(asset=asset, free=free, locked=locked))
    return out


def positions(
    raw: bytes, instruments: Mapping[str, Instrument]
) -> tuple[list[Position], list[str]]:
    """Return the open USD-M positions of ``positionRisk`` and the uncovered symbols.

    ``instruments`` maps symbol -> spec (lots need the step). The second list names the
    symbols with a non-zero position and no spec, so the caller can flag them.
    """
    rows = decode(_POSITIONS, raw, Market.USDM, "positionRisk")
    out, unknown = [], []
    for i, p in enumerate(rows):
        amount = decimal(p.position_amt, Market.USDM, "positionRisk", f"$[{i}].positionAmt")
        if not amount:
            continue
        spec = instruments.get(p.symbol)
        if spec is None:
            unknown.append(p.symbol)
            continue
        out.append(
            Position(
                symbol=p.symbol,
                lots=size_lots(p.position_amt, spec, Market.USDM, "positionRisk", f"$[{i}]"),
                entry_price=decimal(p.entry_price, Market.USDM, "positionRisk", f"$[{i}]"),
                unrealized_pnl=decimal(p.unrealized_pnl, Market.USDM, "positionRisk", f"$[{i}]"),
            )
        )
    return out, unknown


def decode_account_update(raw: bytes) -> sc.AccountUpdate:
    """Decode a USD-M ``ACCOUNT_UPDATE`` (balances ``a.B``, positions ``a.P``)."""
    msg = decode(_ACCOUNT_UPDATE, raw, Market.USDM, "ACCOUNT_UPDATE")
    if msg.event != "ACCOUNT_UPDATE":
        raise error(Market.USDM, "ACCOUNT_UPDATE", "$.e", f"event {msg.event[:40]!r}")
    return msg


# --- exchangeInfo ----------------------------------------------------------------------------


def decode_exchange_info(raw: bytes, market: Market) -> sc.ExchangeInfo:
    """Decode ``exchangeInfo``."""
    return decode(_EXCHANGE_INFO, raw, market, "exchangeInfo")


def symbol_rules(info: sc.ExchangeInfo, market: Market) -> dict[str, SymbolRules]:
    """Return the rules of every symbol of ``exchangeInfo`` that has a tick and a step."""
    out = {}
    for i, s in enumerate(info.symbols):
        found: dict[str, Any] = {}
        for j, f in enumerate(s.filters):
            kind = f.get("filterType")
            if isinstance(kind, str) and kind in _FILTERS:
                try:
                    found[kind] = msgspec.convert(f, _FILTERS[kind])
                except msgspec.ValidationError as exc:
                    where = f"$.symbols[{i}].filters[{j}]"
                    raise error(market, "exchangeInfo", where, str(exc)) from None
        price, lot = found.get("PRICE_FILTER"), found.get("LOT_SIZE")
        if price is None or lot is None:
            continue
        where = f"$.symbols[{i}]"
        notional = found.get("NOTIONAL") or found.get("MIN_NOTIONAL")
        min_notional = 0.0
        if notional is not None:
            text = notional.min_notional or notional.notional or "0"
            min_notional = decimal(text, market, "exchangeInfo", f"{where}.minNotional")
        out[s.symbol] = SymbolRules(
            symbol=s.symbol,
            status=s.status,
            base_asset=s.base_asset,
            quote_asset=s.quote_asset,
            tick_size=decimal(price.tick_size, market, "exchangeInfo", f"{where}.tickSize"),
            step_size=decimal(lot.step_size, market, "exchangeInfo", f"{where}.stepSize"),
            min_notional=min_notional,
            contract_type=s.contract_type,
        )
    return out


def check_instrument(rules: SymbolRules, instrument: Instrument) -> list[str]:
    """Return every difference between the venue's rules and ``instrument`` (empty: match)."""
    problems = []
    if rules.symbol != instrument.symbol:
        problems.append(f"symbol {rules.symbol} is not {instrument.symbol}")
    for name, venue_value, ours in (
        ("tick size", rules.tick_size, instrument.tick_size),
        ("lot size", rules.step_size, instrument.lot_size),
    ):
        if not math.isclose(venue_value, ours, rel_tol=1e-9, abs_tol=0.0):
            problems.append(f"{name}: venue {venue_value!r}, instrument {ours!r}")
    if rules.status != "TRADING":
        problems.append(f"status is {rules.status}, not TRADING")
    return problems


def instrument_from_rules(
    rules: SymbolRules, market: Market, maker_fee: float = 0.0, taker_fee: float = 0.0
) -> Instrument:
    """Return an :class:`Instrument` spec built from the venue's rules."""
    kind = InstrumentKind.SPOT if market == Market.SPOT else InstrumentKind.LINEAR_PERPETUAL
    return Instrument(
        venue=VENUE_NAMES[market],
        symbol=rules.symbol,
        kind=kind,
        tick_size=rules.tick_size,
        lot_size=rules.step_size,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
    )
