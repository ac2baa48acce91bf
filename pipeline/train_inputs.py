"""Stage `train_inputs`: data/train_inputs/<model>.json for every learned model, the sha256 of each file of the
training and validation data its degradation reads (its train_folder and val_set).

Each train stage depends on its model's file alone, so new data of one degradation (study deblur's blur windows)
retrains only the models that read it: DVC's foreach cannot give a params entry its default degradation, by which
dvc.yaml would name the data folders.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from core.config import InputError, stage_main
from core.paths import TRAIN_INPUTS
from core.results import write_json
from core.spec import load_spec
from core.training_data import shard_paths
from degradations import degradation_for
from degradations.base import Degradation


def digests(degradation: Degradation) -> dict[str, str]:
    """Path -> sha256 of every training shard and of the validation set a degradation's runs read."""
    shards, val = shard_paths(degradation.train_folder), Path(degradation.val_set)
    if not shards or not val.is_file():
        raise InputError(f"{val if shards else degradation.train_folder} is missing or holds no shard; run `dvc "
                         "repro` (the stages that write it come first)")
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in [*shards, val]}


@stage_main
def main() -> None:
    spec = load_spec()
    seen: dict[str, dict[str, str]] = {}  # by training folder: the degradations that share one hash it once
    for key, entry in spec.models.items():
        d = degradation_for(entry)
        if str(d.train_folder) not in seen:
            seen[str(d.train_folder)] = digests(d)
        write_json({"degradation": entry.degradation, "files": seen[str(d.train_folder)]}, TRAIN_INPUTS / f"{key}.json")


if __name__ == "__main__":
    main()
