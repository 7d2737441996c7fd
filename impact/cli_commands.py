"""Sub-commands of the `impact` CLI; each is options plus one call into the Python API."""
from __future__ import annotations

from .cli import command  # noqa: F401
