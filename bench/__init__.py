"""Benchmarks (not tests): each module is runnable as ``python -m bench.<name>``."""
