"""Evaluation: runs, metrics and reports on seeded scenarios."""
