"""Distributed Optuna search over the Part 1 configuration space (question 1.6)."""
