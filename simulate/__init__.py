"""Scenarios, sweeps and Monte Carlo over a prepared province (drgdip simulate)."""
