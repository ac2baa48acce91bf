"""Stage `check`: every param checked before any stage that writes runs.

Every other stage depends on its output, so a bad value (`dvc exp run -S noise.level=HIGH`, `-S data.tau=-1`)
stops the run here with one line naming the param and the fix, and DVC never reaches, and so never deletes, the
outputs of the stages after it. The output, data/params.ok, has the same bytes whatever the params: a change
re-runs only the stages whose own params changed.
"""
from __future__ import annotations

from pathlib import Path

import baselines  # noqa: F401  (each package import registers its members)
import degradations  # noqa: F401
import objectives  # noqa: F401
import studies  # noqa: F401
from core.config import InputError, atomic_write, stage_main
from core.paths import PARAMS_OK
from core.registry import BASELINES, DEGRADATIONS, MODELS, OBJECTIVES, STUDIES
from core.spec import ModelEntry, Spec, check_registered, load_spec
from core.spec_errors import need
from degradations import degradation_for
from models.checkpoint import build_model, model_spec
from objectives import objective_for

OUT = PARAMS_OK
REGISTRIES = {"model": MODELS, "baseline": BASELINES, "degradation": DEGRADATIONS, "objective": OBJECTIVES,
              "study": STUDIES}


def learns_from_noise(objective) -> bool:
    """Noise2Noise (an independent noisy copy as target), Noise2Void and HQ-SSL (noisy frames alone) learn from the
    statistics of noise: on a degradation that builds its input from a window of sharp frames (blur) they would
    learn the degradation itself, so check_model refuses the pair."""
    return objective.needs_degradation or not objective.needs_clean


def check_model(name: str, entry: ModelEntry, spec: Spec) -> None:
    """The rules across an entry, its network, its objective and its degradation."""
    model = build_model(model_spec(name, entry, spec.train))
    need(model.frames <= spec.data.length and model.frames % 2 == 1, f"models.{name}.args.frames", model.frames,
         f"odd and at most the sequence length 2*data.tau+1 = {spec.data.length}")
    try:
        objective = objective_for(entry, spec.train, degradation_for(entry))
    except (TypeError, ValueError) as e:
        raise InputError(f"models.{name}: {e}; fix its objective_args or degradation_args in params.yaml") from None
    need(not (learns_from_noise(objective) and objective.degradation.window), f"models.{name}.degradation",
         entry.degradation,
         f"a degradation that adds noise: the objective {objective.registered_name} learns from the noise")
    need(objective.arch in (None, entry.arch), f"models.{name}.arch", entry.arch,
         f"{objective.arch}: the objective {objective.registered_name} trains that network only")
    try:
        objective.check(model)
    except ValueError as e:
        raise InputError(f"models.{name}: {e}") from None
    need(not objective.single_image or model.frames == 1, f"models.{name}.args.frames", model.frames,
         f"1: the objective {objective.registered_name} trains on single noisy frames")


def check_rules(spec: Spec) -> None:
    """What one field cannot say alone: registered names, models against their objectives and degradations,
    own-data models without clean frames, the blur models' noise against the test sets'."""
    check_registered(spec, REGISTRIES)
    tables = {str(t) for name in STUDIES for t in STUDIES.get(name).tables}
    for group in ("models", "baselines"):
        for name, entry in getattr(spec, group).items():
            need(set(map(str, entry.tables)) <= tables, f"{group}.{name}.tables", entry.tables,
                 f"table ids of the registered studies ({', '.join(sorted(tables))})")
    for name, entry in spec.models.items():
        check_model(name, entry, spec)
    listed = spec.own_data.test_frames
    for name in listed:
        objective = OBJECTIVES.get(spec.models[name].objective)
        need(not objective.needs_clean, "own_data.test_frames", listed,
             f"models trained without clean frames ({name} trains with {objective.registered_name})")
    for name, entry in spec.models.items():
        if entry.degradation == "blur":  # the model must train on the blur its test sets have
            noise = entry.degradation_args.get("noise", 0.0)
            need(noise == spec.deblur.noise, f"models.{name}.degradation_args.noise", noise,
                 f"deblur.noise ({spec.deblur.noise}): the test sets' noise")


@stage_main
def main() -> None:
    check_rules(load_spec())
    atomic_write(OUT, lambda tmp: Path(tmp).write_text("params checked\n"))


if __name__ == "__main__":
    main()
