"""Binance WebSocket: combined market streams, WS API and user data."""
