"""The study interface. A study (one paper's tables, findings and figures) turns the evaluated results into a
section of reports/tables.md; the report stage assembles the studies that `report.studies` names.

    STUDIES.build(name).section(evidence) -> markdown lines (figures written under evidence.figures)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.frames import load_shard
from core.results import EVAL


@dataclass
class Evidence:
    """Everything a study may read: params, every method's results and motion rows, each method's info.json
    (by params key), the clean test shard, the degraded test sets by level, and where figures go."""
    params: dict
    results: pd.DataFrame
    motion: pd.DataFrame
    info: dict[str, dict]
    test: dict[str, np.ndarray]
    noisy: dict[str, dict[str, np.ndarray]]
    figures: Path
    made: list[str] = field(default_factory=list)  # figure files written, in order

    def label(self, key: str, table: int | None = None) -> str | None:
        """The label of a params entry (model or baseline) in a table; None when params lack the entry."""
        for group in ("models", "baselines"):
            entry = self.params.get(group, {}).get(key)
            if entry is not None:
                own = {str(t): lab for t, lab in (entry.get("table_labels") or {}).items()}
                return own.get(str(table), entry["label"])
        return None

    def outputs(self, key: str) -> dict[str, np.ndarray]:
        """A method's restored test frames by level (data/eval/<key>/outputs.npz)."""
        return load_shard(EVAL / key / "outputs.npz")

    def keys_in_table(self, table: int | str) -> list[str]:
        return [k for group in ("baselines", "models") for k, e in self.params.get(group, {}).items()
                if str(table) in map(str, e["tables"])]


class Study:
    registered_name = "?"
    title = "?"

    def section(self, evidence: Evidence) -> list[str]:
        raise NotImplementedError
