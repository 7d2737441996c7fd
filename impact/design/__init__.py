"""Designs: propensity scores, matching and weighting. They return weights and balance, never effects on their own."""
from __future__ import annotations

from .designs import Design, MatchDesign, WeightDesign
from .matching import match
from .propensity import PropensityModel, fit_propensity
from .weighting import weight

__all__ = ["Design", "MatchDesign", "PropensityModel", "WeightDesign", "fit_propensity", "match", "weight"]
