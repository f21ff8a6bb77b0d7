"""A local Binance venue server: Binance's REST and WebSocket protocol over loopback."""
