"""What evaluation writes and the report reads: per-method folders under data/eval/<method>/.

results.csv has the columns of the paper's reference table (table,method,blind,level,subset,psnr,ssim); `table` is
text: the paper's table number, or a study's own table id (`ssl`, ...; `colour`: the colour test sequences); a
subset's figures are means over its sequences and `avg` is the mean over subsets, as the paper averages its four
test videos.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import InputError, atomic_write
from core.metrics import srgb_scores
from core.frames import load_shard
from core.paths import NOISY, SCENES_TEST_COLOUR
from core.spec import COLOUR, Rows, Spec

RESULT_COLUMNS = ["table", "method", "blind", "level", "subset", "psnr", "ssim"]
MOTION_COLUMNS = ["method", "fps", "mse"]
ON_TEST = "_on_test"  # data/eval/<model>_on_test: a self-supervised model trained on the noisy test frames


def named_entry(spec: Spec, group: str, argv: list[str], module: str) -> tuple[str, Rows]:
    """The one command-line argument of a foreach stage: a key of the spec's `group`, and its entry."""
    entries = getattr(spec, group)
    if len(argv) != 1 or argv[0] not in entries:
        raise InputError(f"usage: python -m pipeline.{module} <one of {', '.join(entries)}>")
    return argv[0], entries[argv[0]]


def noisy_levels(folder: Path = NOISY) -> list[Path]:
    """The noisy test sets that the `noise` stage wrote, one file per level."""
    levels = sorted(folder.glob("*.npz"))
    if not levels:
        raise InputError(f"{folder} holds no noisy test set; run `dvc repro noise`")
    return levels


def figure8_level(levels: list[Path]) -> Path:
    """The noisy test set Figure 8 is measured at: low when the noise stage made it, else the first there is."""
    return next((p for p in levels if p.stem == "low"), levels[0])


def score_sequences(outputs: np.ndarray, clean_refs: np.ndarray) -> np.ndarray:
    """[n, 2] (PSNR, SSIM) per sequence."""
    return np.array([srgb_scores(o, c) for o, c in zip(outputs, clean_refs)])


def result_rows(scores: np.ndarray, subsets: np.ndarray, tables: list, method: str, blind: bool,
                level: str) -> list[dict]:
    rows, per_subset = [], []
    for s in sorted(set(subsets.tolist())):
        p, q = scores[subsets == s].mean(0)
        per_subset.append((p, q))
        rows.append({"subset": str(s), "psnr": p, "ssim": q})
    p, q = np.mean(per_subset, 0)
    rows.append({"subset": "avg", "psnr": p, "ssim": q})
    return [{"table": str(t), "method": method, "blind": int(blind), "level": level, **r} for t in tables for r in rows]


def entry_rows(scores: np.ndarray, subsets: np.ndarray, entry: Rows, blind: bool, level: str,
               colour: bool = False) -> list[dict]:
    """The rows of one method (a params entry) in every grey table it appears in, or with `colour` in table
    `colour`: `label`, or the table's own label from `table_labels` (Table 4 calls Deformable 3D "full model
    3x3x3")."""
    tables = [t for t in entry.tables if (str(t) == COLOUR) == colour]
    return [r for t in tables for r in result_rows(scores, subsets, [t], entry.label_in(t), blind, level)]


def in_colour(entry: Rows) -> bool:
    return COLOUR in map(str, entry.tables)


def colour_evaluation(restore, entry: Rows, shards: dict[str, dict], blind: bool) -> tuple[list[dict], dict]:
    """Table `colour`: restore(level, noisy shard) -> the restored colour test frames [n, 3, H, W] of each level's
    noisy shard (`shards`, by level, as the grey evaluation loaded them), scored on RGB sRGB against the clean
    colour test frames; the rows, and the outputs by `<level>_colour`."""
    clean = load_shard(SCENES_TEST_COLOUR)
    refs = clean["frames"][:, clean["frames"].shape[1] // 2]
    rows, outputs = [], {}
    for level, noisy in shards.items():
        out = restore(level, noisy)
        rows += entry_rows(score_sequences(out, refs), clean["subset"], entry, blind, level, colour=True)
        outputs[f"{level}_{COLOUR}"] = out.astype(np.float32)
    return rows, outputs


def write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    frame = pd.DataFrame(rows, columns=columns)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"), suffix=".csv")


def write_json(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, sort_keys=True)), suffix=".json")
