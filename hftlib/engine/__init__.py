"""The backtest/paper/live engine core: context, actions, risk, loop (see DESIGN.md §1-6)."""
