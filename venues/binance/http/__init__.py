"""Binance REST: signed requests, rate-limit feedback, error mapping."""
