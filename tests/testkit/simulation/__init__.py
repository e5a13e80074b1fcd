"""A deterministic simulation of the trading path (docs/simulation.md)."""
