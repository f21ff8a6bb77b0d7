"""Binance spot and USD-M futures connector (``hftlib.venues.binance``)."""
