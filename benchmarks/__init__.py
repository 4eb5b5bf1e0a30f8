"""Benchmarks: they print figures beside their targets; they never fail the suite."""
