"""Benchmarks: scripts that start real processes, measure, and print a table. Not tests."""
