"""Stage `train@<model>`: train one model of the `models` dict of params at the peak learning rate that
`tune@<model>` chose on the validation split (engine/train.py holds the loop and the schedule).

Writes data/models/<model>/model.pt and dvclive curves; a checkpoint in data/checkpoints/ lets an interrupted
run resume. Several GPUs or nodes: `torchrun --nproc_per_node N -m pipeline.train <model>` (rank 0 writes).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.config import InputError, load_params, stage_main
from engine.train import train

CHECKPOINTS = Path("data/checkpoints")
TUNED = Path("data/tune")


def tuned_rate(name: str) -> float:
    path = TUNED / name / "lr.json"
    if not path.is_file():
        raise InputError(f"{path} is missing; run `dvc repro tune@{name}` first")
    return float(json.loads(path.read_text())["lr"])


@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    params = load_params()
    if len(argv) != 1 or argv[0] not in params["models"]:
        raise InputError(f"usage: python -m pipeline.train <one of {', '.join(params['models'])}>")
    name = argv[0]
    train(name, params, Path("data/models") / name, CHECKPOINTS / f"{name}.pt", tuned_rate(name))


if __name__ == "__main__":
    main()
