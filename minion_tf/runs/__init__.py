"""Runs: the one runner (data -> build -> fit with resume -> predict -> record), run config, CLI, ledger,
records, prediction, grid and suites. Used by experiments/."""
