"""Estimators: difference-in-differences, event studies, staggered group-time ATTs, and their inference."""
