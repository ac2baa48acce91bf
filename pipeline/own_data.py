"""Stage `own_data@<model>`: a self-supervised model trained again on the noisy test frames of each level alone
(the test inputs themselves, as self-supervision allows and as a user with only their own footage would; the
same budget, the rate its default run chose on validation) and evaluated on them: study ssl's rows
"<label> (trained on the test frames)". Writes data/eval/<model>_on_test/ as evaluate@ writes its folders.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import degradations  # noqa: F401  (registers the degradations)
from core.config import InputError, stage_main
from core.frames import load_shard, save_shard
from core.paths import EVAL, SCENES_TEST, model_folder
from core.registry import DEGRADATIONS
from core.spec import Spec, load_spec
from core.results import (ON_TEST, RESULT_COLUMNS, entry_rows, noisy_levels, score_sequences, write_csv,
                          write_json)
from degradations import degradation_for
from engine.infer import run_model
from engine.own_data import train_on_noisy
from models.checkpoint import load_model
from models.compute import device

LABEL = " (trained on the test frames)"


def train_and_score(name: str, spec: Spec, noisy: dict, clean_refs: np.ndarray, subsets: np.ndarray, level: str,
                    lr: float) -> tuple[list[dict], np.ndarray, dict]:
    """Train `name` on the noisy test sequences of one level, restore them; (result rows, outputs, info)."""
    entry = spec.models[name]
    sigma = degradation_for(entry).stored_level(noisy)
    sequences = noisy["test"]
    n, t, h, w = sequences.shape
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        model_file = train_on_noisy(name, spec, sequences.reshape(n * t, h, w), np.arange(n) * t, Path(tmp), lr,
                                    sigma, spec.own_data.whole_frames)
        seconds = time.perf_counter() - began
        model = load_model(model_file, device(spec.train.device))
    out, per_sequence, _ = run_model(model, sequences, DEGRADATIONS.build("observed", **sigma), sigma)
    rows = entry_rows(score_sequences(out, clean_refs), subsets, entry.model_copy(update={"label": entry.label + LABEL}),
                      model.blind, level)
    return rows, out.astype(np.float32), {"train_seconds": seconds, "parameters": model.parameter_count(),
                                          "megapixels_per_second": out[0].size / 1e6 / max(per_sequence, 1e-9)}


@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = load_spec()
    listed = spec.own_data.test_frames
    if len(argv) != 1 or argv[0] not in listed:
        raise InputError(f"usage: python -m pipeline.own_data <one of own_data.test_frames: {', '.join(listed)}>")
    name = argv[0]
    lr = json.loads((model_folder(name) / "tune.json").read_text())["lr"]
    test = load_shard(SCENES_TEST)
    tau = test["frames"].shape[1] // 2
    rows, outputs, info = [], {}, {"label": spec.models[name].label + LABEL, "lr": lr}
    for path in noisy_levels():
        r, outputs[path.stem], i = train_and_score(name, spec, load_shard(path), test["frames"][:, tau],
                                                   test["subset"], path.stem, lr)
        rows += r
        info.update(parameters=i["parameters"], megapixels_per_second=i["megapixels_per_second"])
        info["train_seconds"] = info.get("train_seconds", 0.0) + round(i["train_seconds"], 1)
    folder = EVAL / (name + ON_TEST)
    save_shard(folder / "outputs.npz", **outputs)
    write_json(info, folder / "info.json")
    write_csv(rows, RESULT_COLUMNS, folder / "results.csv")


if __name__ == "__main__":
    main()
