"""ground_truth/: each treated post unit's individual effect Y(1) - Y(0), keyed as its panel keys it.

Running an estimator on these effects as the outcome gives the true value of its own estimand
(for a linear estimator, the same weighted average of the individual effects that it targets).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import writer as w

FOLDER = "ground_truth"

#: File name -> schema: the panel's key columns, then one Y(1) - Y(0) column per outcome it names.
SCHEMAS = {
    "vsh_attendance.parquet": pa.schema([
        ("pupil_id", pa.string()), ("academic_year", pa.int32()),
        ("overall_absence_rate", pa.float64()), ("authorised_absence_rate", pa.float64()),
        ("unauthorised_absence_rate", pa.float64()), ("persistent_absence", pa.int8()), ("severe_absence", pa.int8()),
    ]),
    "vsh_ks4.parquet": pa.schema([
        ("pupil_id", pa.string()), ("ks4_year", pa.int32()),
        ("att8", pa.float64()), ("em94", pa.int8()), ("em95", pa.int8()),
    ]),
    "pp_plus.parquet": pa.schema([
        ("la", pa.int32()), ("child_id", pa.string()), ("collection_year", pa.int32()), ("eet", pa.int8()),
    ]),
}


class UnitEffects:
    """Appends the treated post units of each panel to ground_truth/<file>, in generation order."""

    def __init__(self, root: Path, pupil_id: Callable[[np.ndarray], np.ndarray]):
        folder = root / FOLDER
        folder.mkdir()
        self._pupil_id = pupil_id
        self._out = {name: w.Appender(folder / name, schema) for name, schema in SCHEMAS.items()}

    def attendance(self, year: int, pupils: np.ndarray, effects: dict[str, np.ndarray]) -> None:
        """Pupil-years of `year` (person indices) with the Y(1) - Y(0) of each absence outcome."""
        self._add("vsh_attendance.parquet", {"pupil_id": w.strings(self._pupil_id(pupils)),
                                             "academic_year": np.full(pupils.size, year)}, effects)

    def ks4(self, year: int, pupils: np.ndarray, effects: dict[str, np.ndarray]) -> None:
        """Year 11 pupils of KS4 year `year` with the Y(1) - Y(0) of each KS4 outcome."""
        self._add("vsh_ks4.parquet", {"pupil_id": w.strings(self._pupil_id(pupils)),
                                      "ks4_year": np.full(pupils.size, year)}, effects)

    def post16(self, la: np.ndarray, child_id: np.ndarray, years: np.ndarray, effects: dict[str, np.ndarray]) -> None:
        """Care-leaver returns (LA code, child id token, collection year) with the Y(1) - Y(0) of each outcome."""
        self._add("pp_plus.parquet", {"la": la, "child_id": w.strings(child_id), "collection_year": years}, effects)

    def _add(self, name: str, keys: dict, effects: dict[str, np.ndarray]) -> None:
        if next(iter(effects.values())).size:
            self._out[name].add({k: pa.array(v) if isinstance(v, np.ndarray) else v
                                 for k, v in {**keys, **effects}.items()})

    def close(self) -> dict[str, int]:
        """Close every file (empty files keep their schema); rows per file, keyed by relative path."""
        return {f"{FOLDER}/{name}": out.close() for name, out in self._out.items()}
