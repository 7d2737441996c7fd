"""One exception hierarchy for the whole package; each class carries the CLI exit code it maps to."""
from __future__ import annotations


class ImpactError(Exception):
    """Base class: an analysis could not be completed (exit code 1)."""

    exit_code = 1


class ParameterError(ImpactError, ValueError):
    """A function argument or CLI option is invalid (exit code 2)."""

    exit_code = 2


class SpecError(ImpactError, ValueError):
    """A YAML analysis spec is invalid; the message names the field path (exit code 2)."""

    exit_code = 2


class DataError(ImpactError, ValueError):
    """Input data (a frame or an extract directory) breaks a contract (exit code 3)."""

    exit_code = 3


class EstimationError(ImpactError):
    """A model could not be estimated on valid input, e.g. no variation left (exit code 1)."""

    exit_code = 1


class DisclosureError(ImpactError):
    """A required output failed statistical disclosure control (exit code 4)."""

    exit_code = 4
