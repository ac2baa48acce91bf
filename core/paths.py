"""Where the pipeline's files live, relative to the project root (stages run there): one place for every path a
stage writes or reads, so that dvc.yaml's outs and deps and the code name the same files."""
from __future__ import annotations

from pathlib import Path

DATA = Path("data")
PARAMS_OK = DATA / "params.ok"           # stage check
INPUTS_OK = DATA / "inputs.ok"           # stage inputs
RENDERED = DATA / "rendered"             # stage render: videos/ and clips240/
SCENES = DATA / "scenes"                 # stage scenes: train/<video>.npz, test(_colour).npz, val.npz, manifest.csv
SCENES_TRAIN = SCENES / "train"
SCENES_TEST = SCENES / "test.npz"
SCENES_TEST_COLOUR = SCENES / "test_colour.npz"   # the test sequences in colour: [n, T, 3, H, W] linear RGB
SCENES_VAL = SCENES / "val.npz"
MOTION_SUBSETS = DATA / "motion" / "subsets.npz"   # stage motion: Figure 8's frame-rate subsets
NOISY = DATA / "noisy"                   # stage noise: <level>.npz
GAUSS = DATA / "gauss"                   # stage gauss: clean.npz, noisy/<level>.npz, val
BLUR = DATA / "blur"                     # stage blur: train/, val.npz, clean.npz, blurry/<level>.npz
TRAIN_INPUTS = DATA / "train_inputs"     # stage train_inputs: <model>.json, the hashes of its training data
MODELS = DATA / "models"                 # stage train: <model>/model.pt, tune.json, live/
CHECKPOINTS = DATA / "checkpoints"       # stage train: an interrupted run resumes from here
EVAL = DATA / "eval"                     # stages baselines, evaluate, own_data: <method>/

REPORTS = Path("reports")                # stage report: tables.md, results.csv, motion.csv, figures/
RESULTS = REPORTS / "results.csv"
PAPER = REPORTS / "paper"                # the published figures
BUDGET = REPORTS / "budget"              # tools/budget.py: budget.csv, spreads.json, figure_budget.png


def model_folder(name: str) -> Path:
    return MODELS / name
