"""Accounts of the local venue: spot balances with locks, USD-M wallet and positions.

Spot: a buy locks ``price x quantity`` of the quote asset (a market buy locks the exact cost
of the liquidity it will take, which the synchronous matching makes known in advance), a
sell locks the quantity of the base asset. Fills move the locked amounts; a buyer pays the
commission in the base asset received, a seller in the quote asset. Whatever is still locked
when an order ends goes back to free.

USD-M (one-way mode, cross margin, one margin asset): a fill moves the position at its
average entry price and realises P&L on the part that reduces it; commissions come out of
the wallet. The initial margin of a position or an open order is its notional divided by
the leverage; an order needs margin only for the part that would grow the position, and is
refused (-2019) when that exceeds the available balance (wallet + unrealised P&L - position
margin - open-order margin). Marks are the public book's mid price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.config import AccountConfig

from hftlib.engine.types import BUY

ZERO = Decimal(0)


class SpotAccount:
    """Free and locked balances per asset."""

    def __init__(self, account_id: int, config: AccountConfig) -> None:
        self.id = account_id
        self.config = config
        self.free: dict[str, Decimal] = {a: Decimal(v) for a, v in config.balances.items()}
        self.locked: dict[str, Decimal] = {}
        self.update_ms = 0

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked; raise -2010 when free is short."""
        if self.free.get(asset, ZERO) < amount:
            raise E.ApiError(E.NEW_ORDER_REJECTED, E.MSG_INSUFFICIENT)
        self.free[asset] = self.free.get(asset, ZERO) - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def release(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free."""
        if amount:
            self.locked[asset] -= amount
            self.free[asset] = self.free.get(asset, ZERO) + amount

    def settle(self, asset: str, locked_used: Decimal, paid: Decimal) -> None:
        """Use ``locked_used`` of a lock to pay ``paid``; the difference returns to free."""
        self.locked[asset] -= locked_used
        self.free[asset] = self.free.get(asset, ZERO) + locked_used - paid

    def credit(self, asset: str, amount: Decimal) -> None:
        """Add ``amount`` (may be negative) to the free balance."""
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def assets(self) -> list[str]:
        """Return every asset with a balance entry, sorted."""
        return sorted(set(self.free) | set(self.locked))


@dataclass
class Position:
    """One USD-M position in one-way mode: signed lots at an average entry price."""

    lots: int = 0
    entry: Decimal = ZERO
    realized: Decimal = ZERO
    update_ms: int = 0


@dataclass
class FuturesAccount:
    """Wallet balance of the margin asset and one position per symbol."""

    id: int
    config: AccountConfig
    asset: str = "USDT"
    wallet: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    update_ms: int = 0

    @classmethod
    def create(cls, account_id: int, config: AccountConfig, asset: str) -> FuturesAccount:
        """Build an account from its config (the wallet is the margin asset's balance)."""
        return cls(account_id, config, asset, Decimal(config.balances.get(asset, "0")))

    @property
    def leverage(self) -> int:
        """Leverage applied to every symbol."""
        leverage: int = self.config.leverage
        return leverage

    def position(self, symbol: str) -> Position:
        """Return the position of a symbol (created flat)."""
        return self.positions.setdefault(symbol, Position())

    def apply_fill(
        self, symbol: str, side: int, lots: int, price: Decimal, lot_value: Decimal, fee: Decimal
    ) -> Decimal:
        """Apply a fill to the position and wallet; return the realised P&L.

        ``lot_value`` is the base quantity of one lot times the contract multiplier.
        """
        pos = self.position(symbol)
        signed = lots if side == BUY else -lots
        realized = ZERO
        if pos.lots == 0 or (pos.lots > 0) == (signed > 0):
            total = abs(pos.lots) + lots
            pos.entry = (pos.entry * abs(pos.lots) + price * lots) / total
            pos.lots += signed
        else:
            closing = min(lots, abs(pos.lots))
            direction = 1 if pos.lots > 0 else -1
            realized = (price - pos.entry) * closing * lot_value * direction
            pos.lots += signed
            if pos.lots == 0:
                pos.entry = ZERO
            elif (pos.lots > 0) == (signed > 0):
                pos.entry = price  # the fill flipped the position: the rest opened here
        pos.realized += realized
        self.wallet += realized - fee
        return realized

    def unrealized(self, symbol: str, mark: Decimal | None, lot_value: Decimal) -> Decimal:
        """Return a position's unrealised P&L at ``mark`` (0 without a mark)."""
        pos = self.positions.get(symbol)
        if pos is None or not pos.lots or mark is None:
            return ZERO
        return (mark - pos.entry) * pos.lots * lot_value

    def margin_for(self, notional: Decimal) -> Decimal:
        """Return the initial margin of a notional at the account's leverage."""
        return notional / self.leverage
