"""Designs: propensity scores, matching and weighting. They return weights and balance, never effects on their own."""
