"""Synthetic National Pupil Database: NPD-style extracts with planted effects and ground truth.

`generate()` writes the tables of `impact.data.contracts` (spring census, absence, exclusions,
KS2, KS4, CIN, CLA episodes, care leavers, LA lookup, PP+ pilot) for a national-shaped
population with coherent histories, plus `ground_truth.json` and `ground_truth/` (each treated
post unit's individual effect Y(1) - Y(0), keyed as the analysis panels key it).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ParameterError
from ...params import check_number
from ...outputs import atomic_directory
from .config import GENERATOR_VERSION, PlantedEffects
from .engine import run

__all__ = ["GeneratedData", "PlantedEffects", "generate", "GENERATOR_VERSION"]

_OWNER = "generate"


@dataclass(frozen=True)
class GeneratedData:
    """What `generate()` wrote: the directory, rows per file, and the ground truth."""

    path: Path
    files: dict[str, int]
    ground_truth: dict


def generate(
    out: str | Path,
    *,
    pupils: int = 200_000,
    seed: int = 1,
    years: tuple[int, int] = (2015, 2025),
    effects: PlantedEffects | None = None,
    pretrend: float = 0.0,
    write_burn_in: bool = False,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    link_failure: float = 0.0,
) -> GeneratedData:
    """Write a synthetic NPD extract directory at `out` (atomically) and return its ground truth.

    pupils: pupils on roll in one year (R-13); years: first and last academic year written
    (end-year labels); pretrend: differential pre-trend of the treated group's absence rate in
    pp per year before 2021/22 (0 = parallel); link_failure: share of pupils' social care
    episodes written without a PMR (default 0).
    """
    check_number(_OWNER, "pupils", pupils, low=1000, high=20_000_000, integer=True)
    check_number(_OWNER, "seed", seed, low=0, high=2**31 - 1, integer=True)
    if (not isinstance(years, (tuple, list)) or len(years) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) and 2010 <= y <= 2026 for y in years)
            or years[0] > years[1]):
        raise ParameterError(
            "The 'years' parameter of generate must be a pair (first, last) of ints within [2010, 2026] with "
            f"first <= last. Got {years!r} instead."
        )
    if effects is None:
        effects = PlantedEffects()
    elif not isinstance(effects, PlantedEffects):
        raise ParameterError(f"The 'effects' parameter of generate must be a PlantedEffects or None. Got {effects!r} instead.")
    check_number(_OWNER, "pretrend", pretrend, low=-2.0, high=2.0)
    check_number(_OWNER, "link_failure", link_failure, low=0.0, high=0.5)
    for name, flag in (("write_burn_in", write_burn_in), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise ParameterError(f"The '{name}' parameter of generate must be a bool. Got {flag!r} instead.")
    if progress is not None and not callable(progress):
        raise ParameterError(f"The 'progress' parameter of generate must be a callable or None. Got {progress!r} instead.")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ParameterError(
            f"The 'out' parameter of generate must be a path that does not exist yet (or pass overwrite=True). "
            f"Got {str(out)!r} instead."
        )
    say = progress or (lambda _msg: None)
    arguments = {"pupils": pupils, "seed": seed, "years": [years[0], years[1]], "pretrend": pretrend,
                 "write_burn_in": write_burn_in, "link_failure": link_failure}
    with atomic_directory(out, overwrite=overwrite, owner=_OWNER) as tmp:
        truth = run(tmp, pupils=pupils, seed=seed, first=years[0], last=years[1], effects=effects,
                    pretrend=float(pretrend), write_burn_in=write_burn_in, link_failure=float(link_failure),
                    progress=say)
        gt = truth.to_dict(arguments)
        (tmp / "ground_truth.json").write_text(json.dumps(gt, indent=2, sort_keys=True) + "\n")
        say("done")
    return GeneratedData(path=out, files=dict(truth.files), ground_truth=gt)
