"""Strategies (``hftlib.strategies``) written as numba callbacks on the engine's context."""
