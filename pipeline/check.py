"""Stage `check`: every param checked before any stage that writes runs.

Every other stage depends on its output, so a bad value (`dvc exp run -S noise.level=HIGH`, `-S data.tau=-1`)
stops the run here with one line naming the param and the fix, and DVC never reaches, and so never deletes, the
outputs of the stages after it. The output, data/params.ok, has the same bytes whatever the params: a change
re-runs only the stages whose own params changed.
"""
from __future__ import annotations

from pathlib import Path

import skimage.data

import baselines  # noqa: F401  (each package import registers its members)
import degradations  # noqa: F401
import objectives  # noqa: F401
import studies  # noqa: F401
from core.config import InputError, atomic_write, load_params, stage_main
from core.registry import BASELINES, DEGRADATIONS, OBJECTIVES, STUDIES
from degradations.raw_noise import level_names
from models.checkpoint import build_model, model_spec
from models.unet import TOPS
from degradations import degradation_for
from objectives import objective_for

OUT = Path("data/params.ok")


def need(ok: bool, key: str, value, wanted: str) -> None:
    if not ok:
        raise InputError(f"{key} is {value!r}; it must be {wanted}; fix it in params.yaml (or your -S)")


def integer(section: dict, key: str, name: str, low: int = 1) -> None:
    v = section.get(key)
    need(isinstance(v, int) and not isinstance(v, bool) and v >= low, f"{name}.{key}", v, f"an integer >= {low}")


def number(section: dict, key: str, name: str, low: float = 0.0, strict: bool = True) -> None:
    v = section.get(key)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (v > low if strict else v >= low)
    need(ok, f"{name}.{key}", v, f"a number {'>' if strict else '>='} {low}")


def names(section: dict, key: str, name: str, allow_empty: bool = False) -> list[str]:
    """A list of distinct strings: a lone string would be read letter by letter, a duplicate twice."""
    v = section.get(key)
    need(isinstance(v, list) and all(isinstance(x, str) and x for x in v) and (allow_empty or v),
         f"{name}.{key}", v, "a list of names, e.g. [a, b]")
    dup = sorted({x for x in v if v.count(x) > 1})
    need(not dup, f"{name}.{key}", v, f"a list without repeats (named twice: {', '.join(dup)})")
    return v


def check_data(p: dict) -> None:
    integer(p["data"], "tau", "data", 1)
    integer(p["data"], "height", "data", 16)
    s = p["scenes"]
    names(s, "videos", "scenes")
    test, val = names(s, "test_videos", "scenes"), names(s, "val_videos", "scenes")
    both = sorted(set(test) & set(val))
    need(not both, "scenes.val_videos", val, f"apart from the test videos (both name {', '.join(both)})")
    number(s, "detector_threshold", "scenes")
    for key in ("min_scene_frames", "train_stride", "test_crop", "max_test_sequences"):
        integer(s, key, "scenes")
    m = p["motion"]
    need(isinstance(m.get("source"), str), "motion.source", m.get("source"), "a folder of 240 fps clips")
    fps = m.get("fps")
    need(isinstance(fps, list) and fps and all(isinstance(f, int) and f > 0 and 240 % f == 0 for f in fps)
         and len(set(fps)) == len(fps), "motion.fps", fps, "distinct divisors of 240, e.g. [120, 60, 24]")
    integer(m, "references_per_clip", "motion")
    integer(m, "crop", "motion", 8)


def check_noise(p: dict) -> None:
    n = p["noise"]
    try:
        level_names(n.get("level"))
    except ValueError as e:
        raise InputError(f"{e}; set it with `dvc exp run -S noise.level=high`") from None
    need(n.get("degradation", "raw_noise") in DEGRADATIONS, "noise.degradation", n.get("degradation"),
         f"a registered degradation ({', '.join(sorted(DEGRADATIONS))})")
    integer(n, "seed", "noise", 0)


def check_train(p: dict) -> None:
    t = p["train"]
    for key in ("steps", "batch", "crop", "width", "weight_width", "checkpoint_every", "rate_workers"):
        integer(t, key, "train")
    integer(t, "seed", "train", 0)
    integer(t, "threads", "train", 0)
    integer(t, "bn_batches", "train", 0)
    e = t.get("ema", 0)
    need(isinstance(e, (int, float)) and not isinstance(e, bool) and 0 <= e <= 1, "train.ema", e,
         "a share of the run in [0, 1] (0: no moving average)")
    number(t, "max_offset", "train")
    grid = t.get("lr_grid")
    need(isinstance(grid, list) and grid and all(isinstance(x, (int, float)) and x > 0 for x in grid)
         and len(set(grid)) == len(grid), "train.lr_grid", grid, "distinct positive rates, e.g. [3.0e-4, 1.0e-3]")
    number(t, "lr_tie_db", "train", 0.0, strict=False)
    w = t.get("warmup")
    need(isinstance(w, (int, float)) and 0 <= w < 1, "train.warmup", w, "a share of the steps in [0, 1)")
    need(t.get("schedule") in ("cosine", "linear"), "train.schedule", t.get("schedule"), "cosine or linear")
    need(t.get("loss") in ("l1", "mse"), "train.loss", t.get("loss"), "l1 (the paper) or mse (the authors' code)")
    need(t.get("gamma") in ("srgb", "2.2"), "train.gamma", t.get("gamma"), "srgb (the paper) or 2.2")
    need(t.get("unet_top", "table1") in TOPS, "train.unet_top", t.get("unet_top"),
         "table1 (the paper's Table 1) or narrow")
    a = t.get("annealing") or {}
    number(a, "eta", "train.annealing", 0.0, strict=False)
    number(a, "gamma", "train.annealing")
    integer(a, "paper_steps", "train.annealing")
    need(isinstance(a.get("normalised", False), bool), "train.annealing.normalised", a.get("normalised"),
         "true or false")


def learns_from_noise(objective) -> bool:
    """Noise2Noise (an independent noisy copy as target), Noise2Void and HQ-SSL (noisy frames alone) learn from the
    statistics of noise: on a degradation that builds its input from a window of sharp frames (blur) they would
    learn the degradation itself, so check_models refuses the pair."""
    return objective.needs_degradation or not objective.needs_clean


def check_models(p: dict) -> None:
    length = 2 * p["data"]["tau"] + 1
    for name, entry in p["models"].items():
        spec = model_spec(p, name)  # the arch and every argument are known, or a one-line error
        model = build_model(spec)
        need(model.frames <= length and model.frames % 2 == 1, f"models.{name}.args.frames", model.frames,
             f"odd and at most the sequence length 2*data.tau+1 = {length}")
        for key, registry in (("objective", OBJECTIVES), ("degradation", DEGRADATIONS)):
            value = entry.get(key)
            need(value is None or value in registry, f"models.{name}.{key}", value,
                 f"a registered {registry.kind} ({', '.join(sorted(o for o in registry if not o.startswith('test_')))})")
        for key in ("objective_args", "degradation_args"):
            need(isinstance(entry.get(key) or {}, dict), f"models.{name}.{key}", entry.get(key),
                 "a mapping of settings")
        try:
            objective = objective_for(entry, p["train"], degradation_for(entry))
        except (TypeError, ValueError) as e:
            raise InputError(f"models.{name}: {e}; fix its objective_args or degradation_args in params.yaml") \
                from None
        need(not (learns_from_noise(objective) and objective.degradation.window), f"models.{name}.degradation",
             entry.get("degradation"),
             f"a degradation that adds noise: the objective {objective.registered_name} learns from the noise")
        need(objective.arch in (None, entry["arch"]), f"models.{name}.arch", entry["arch"],
             f"{objective.arch}: the objective {objective.registered_name} trains that network only")
        try:
            objective.wrap(model)
        except ValueError as e:
            raise InputError(f"models.{name}: {e}") from None
        need(not objective.single_image or model.frames == 1, f"models.{name}.args.frames", model.frames,
             f"1: the objective {objective.registered_name} trains on single noisy frames")
        check_rows(entry, f"models.{name}")


def check_rows(entry: dict, name: str) -> None:
    need(isinstance(entry.get("label"), str) and entry["label"], f"{name}.label", entry.get("label"), "a name")
    tables = entry.get("tables")
    need(isinstance(tables, list) and tables and all(isinstance(t, (int, str)) and str(t) for t in tables)
         and len(set(map(str, tables))) == len(tables), f"{name}.tables", tables,
         "a list of distinct table ids (the paper's table numbers, or a study's table such as ssl)")
    own = entry.get("table_labels") or {}
    need(isinstance(own, dict) and set(map(str, own)) <= set(map(str, tables)), f"{name}.table_labels", own,
         "labels of tables the entry is in")


def check_baselines(p: dict) -> None:
    for name, entry in p["baselines"].items():
        method = entry.get("method", name)
        need(method in BASELINES, f"baselines.{name}.method" if "method" in entry else f"baselines.{name}", method,
             f"a registered method ({', '.join(sorted(BASELINES))})")
        need(entry.get("degradation") in (None, *DEGRADATIONS), f"baselines.{name}.degradation",
             entry.get("degradation"), f"a registered degradation ({', '.join(sorted(DEGRADATIONS))})")
        grid = entry.get("grid", [1.0])
        need(isinstance(grid, list) and grid and all(isinstance(g, (int, float)) and g > 0 for g in grid)
             and len(set(grid)) == len(grid), f"baselines.{name}.grid", grid, "distinct positive strengths")
        check_rows(entry, f"baselines.{name}")


def check_own_data(p: dict) -> None:
    listed = names(p["own_data"], "test_frames", "own_data", allow_empty=True)
    for name in listed:
        need(name in p["models"], "own_data.test_frames", listed, f"keys of `models` ({name} is not one)")
        objective = OBJECTIVES.get(p["models"][name].get("objective", "supervised"))
        need(not objective.needs_clean, "own_data.test_frames", listed,
             f"models trained without clean frames ({name} trains with {objective.registered_name})")


def check_gauss(p: dict) -> None:
    g = p["gauss"]
    for name in names(g, "photographs", "gauss"):
        need(callable(getattr(skimage.data, name, None)) and not name.startswith("_"), "gauss.photographs", name,
             "names of skimage.data photographs (e.g. stereo_motorcycle, cell)")
    integer(g, "seed", "gauss", 0)


def check_deblur(p: dict) -> None:
    d = p["deblur"]
    names(d, "test_clips", "deblur")
    integer(d, "windows_per_clip", "deblur", 1)
    number(d, "noise", "deblur", 0.0, strict=False)
    integer(d, "seed", "deblur", 0)
    for name, entry in p["models"].items():
        if entry.get("degradation") == "blur":  # the model must train on the blur its test sets have
            noise = (entry.get("degradation_args") or {}).get("noise", 0.0)
            need(noise == d["noise"], f"models.{name}.degradation_args.noise", noise,
                 f"deblur.noise ({d['noise']}): the test sets' noise")


def check_report(p: dict) -> None:
    r = p["report"]
    for study in r.get("studies", []):
        need(study in STUDIES, "report.studies", r["studies"], f"registered studies ({', '.join(sorted(STUDIES))})")
    number(r, "margin_db", "report", 0.0, strict=False)
    spreads = r.get("seed_spread_db") or {}
    need(isinstance(spreads, dict), "report.seed_spread_db", spreads, "a mapping of model to dB, e.g. {d2d: 0.5}")
    for model in spreads:
        need(model in p["models"], f"report.seed_spread_db.{model}", model,
             "a model of `models` (drop the entry when its model is gone)")
        number(spreads, model, "report.seed_spread_db", 0.0, strict=False)


def check_params(p: dict) -> None:
    for section in ("data", "render", "scenes", "motion", "noise", "train", "models", "own_data", "baselines",
                    "gauss", "deblur", "report"):
        need(isinstance(p.get(section), dict), section, p.get(section), "a section of params.yaml")
    check_data(p)
    check_noise(p)
    check_train(p)
    check_models(p)
    check_own_data(p)
    check_baselines(p)
    check_gauss(p)
    check_deblur(p)
    check_report(p)


@stage_main
def main() -> None:
    check_params(load_params())
    atomic_write(OUT, lambda tmp: Path(tmp).write_text("params checked\n"))


if __name__ == "__main__":
    main()
