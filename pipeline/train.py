"""Stage `train@<model>`: train one model of the `models` dict of params at every peak learning rate of the
shared grid and keep the best on the validation split (engine/select.py; the loop and schedule: engine/train.py).

Writes data/models/<model>/model.pt, tune.json (every rate's validation PSNR) and the winner's dvclive curves;
checkpoints in data/checkpoints/ let an interrupted run resume. Several GPUs or nodes:
`torchrun --nproc_per_node N -m pipeline.train <model>` (rank 0 writes; the rates then train one after another).
"""
from __future__ import annotations

import sys

import degradations  # noqa: F401  (registers the degradations)
import objectives  # noqa: F401  (registers the objectives)
from core.config import InputError, stage_main
from core.paths import CHECKPOINTS, model_folder
from core.spec import load_spec
from engine.select import train_and_select



@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = load_spec()
    if len(argv) != 1 or argv[0] not in spec.models:
        raise InputError(f"usage: python -m pipeline.train <one of {', '.join(spec.models)}>")
    train_and_select(argv[0], spec, model_folder(argv[0]), CHECKPOINTS)


if __name__ == "__main__":
    main()
