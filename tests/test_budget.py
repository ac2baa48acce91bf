"""The budget study: its crossover estimate (interpolated where measured, extrapolated along the last segment in
log-seconds, no number where that segment is flat, falling or would reach the target only far away), which
models it trains, which runs of a former study it keeps, and the perturbed starts of its stability runs."""
import math
from pathlib import Path

import pandas as pd
import pytest

from core.spec import replace
from tests.conftest import default_spec
from tests.test_train import project  # noqa: F401  (a folder with training data, as the cwd)
from tools.budget_report import MAX_EXTRAPOLATION, crossover


def curve(*points):
    return pd.DataFrame(points, columns=["cpu_seconds", "psnr"])


def test_interpolated_between_measured_budgets():
    x, extrapolated = crossover(curve((10, 30.0), (100, 32.0)), 31.0)
    assert x == pytest.approx(math.sqrt(10 * 100)) and not extrapolated


def test_extrapolated_along_the_last_segment():
    x, extrapolated = crossover(curve((10, 30.0), (100, 32.0)), 34.0)
    assert x == pytest.approx(1000) and extrapolated


def test_a_flat_or_falling_curve_gives_no_number():
    assert crossover(curve((10, 30.0), (100, 29.0)), 34.0) == (None, False)
    x, extrapolated = crossover(curve((10, 30.0), (100, 30.01)), 34.0)  # 1e400 s along a nearly flat segment
    assert x is None and extrapolated
    x, _ = crossover(curve((10, 30.0), (100, 32.0)), 32.0 + 2.0 * math.log10(MAX_EXTRAPOLATION) - 0.01)
    assert x is not None  # just inside the limit


def test_the_report_words_a_target_met_at_the_smallest_budget_as_a_bound():
    from tools.budget_report import when_reached

    points = curve((10, 30.0), (100, 32.0))
    assert when_reached(points, 29.0) == ("<= 10 (the smallest budget measured)", "measured")
    assert when_reached(points, 31.0) == ("32", "measured")
    assert when_reached(points, 34.0) == ("1,000", "extrapolated")
    assert when_reached(curve((10, 30.0), (100, 29.0)), 34.0) == ("not reached: the curve flattens", "")


def test_every_other_learned_model_of_tables_2_to_4_is_trained_for_its_spread():
    from tools.budget import MODELS, spread_models

    params = default_spec()
    others = spread_models(params, list(MODELS))
    assert {"d2d_per_frame", "kpn5_video", "direct", "fixed_5x5x5", "d3d_no_annealing", "d3d_blind"} <= set(others)
    assert not set(others) & set(MODELS)
    assert not {"n2v", "dncnn_gauss", "svrnn"} & set(others)  # the other studies' models
    assert len(others) + len(MODELS) == sum(bool({2, 3, 4} & set(e.tables)) for e in params.models.values())


def test_a_former_run_is_kept_only_with_the_very_same_run_key():
    from tools.budget import job_key, still_valid

    job = {"spec": default_spec(), "model": "kpn5_image", "width": 8, "seed": 0, "steps": 450, "threads": 1,
           "lr": 1e-3, "perturb": 0}
    key = job_key(job)
    assert job_key(dict(job)) == key
    assert len({key} | {job_key(job | change) for change in ({"seed": 1}, {"threads": 2}, {"steps": 100},
                                                              {"lr": 3e-3}, {"width": 16}, {"perturb": 1})}) == 7
    jobs = [job | {"key": key}, job | {"seed": 1, "key": job_key(job | {"seed": 1})}]
    old = pd.DataFrame([{"seed": 0, "level": lv, "psnr": 30.0, "key": key} for lv in ("low", "high")]
                       + [{"seed": 1, "level": "low", "psnr": 31.0, "key": "stale"}])
    kept, todo = still_valid(old, jobs)
    assert list(kept.psnr) == [30.0, 30.0] and [j["seed"] for j in todo] == [1]
    kept, todo = still_valid(old.drop(columns="key"), jobs)  # a study written before run keys: train it all
    assert kept.empty and len(todo) == 2
    assert still_valid(None, jobs)[1] == jobs


def at_width_8_and_450_steps():
    spec = default_spec()
    return replace(spec, train=replace(spec.train, width=8, steps=450))


def runs(**base):
    """Made-up study rows: each model at the default width and budget, seeds 0-2 at base, base+0.3, base+0.6 dB."""
    return pd.DataFrame([{"model": m, "width": 8, "seed": s, "steps": 450, "threads": 1, "level": lv,
                          "psnr": b + 0.3 * s, "cpu_seconds": 10.0}
                         for m, b in base.items() for s in range(3) for lv in ("low", "high")])


def test_findings_on_the_seed_means_use_the_spread_over_sqrt_seeds():
    """Deformable 2D's seeds average 0.5 dB above KPN 5x5's and 1 dB above DnCNN's; each model's seeds spread
    0.6 dB. One seed against another is within that 0.6 dB; a mean of three seeds is held to 0.6 / sqrt(3) =
    0.35 dB, which 0.5 clears, and 0.2 does not."""
    from tools.budget_report import findings_on_means, seed_means

    params = at_width_8_and_450_steps()
    study = runs(d2d=31.0, kpn5_image=30.5, dncnn=30.0)
    means = seed_means(study, params)
    assert set(means.method) == {"Deformable 2D", "KPN 5x5", "DnCNN"} and (means.seeds == 3).all()
    assert means[means.method == "Deformable 2D"].psnr.tolist() == pytest.approx([31.3, 31.3])
    first = findings_on_means(study, params)[0]
    assert first.verdict == "holds" and "(margin 0.35 dB)" in first.evidence
    assert findings_on_means(runs(d2d=31.0, kpn5_image=30.8, dncnn=30.0), params)[0].verdict == "within noise"
    assert findings_on_means(runs(d2d=31.0, kpn5_image=31.5, dncnn=30.0), params)[0].verdict == "does not hold"
    assert findings_on_means(study[study.seed == 0], params) == []  # one seed: no spread to judge by


def test_a_nudged_start_only_nudges_the_start_and_is_a_run_of_its_own(project):
    """A run's perturbed start (Run.perturb = k): its start weights within a few 1e-6 of the plain start's, the
    run then ends elsewhere than the plain run, the same perturbation seed gives the same run, and its run key is
    its own."""
    from engine.train import PERTURBATION, fresh_start, train
    from tests.test_train import LR, same, small_params, weights
    from tools.budget import job_key, job_run

    job = {"spec": small_params(), "model": "kpn5_image", "width": 2, "seed": 0, "steps": 6, "threads": 1,
           "lr": LR, "perturb": 1}
    run = job_run(job)
    plain, nudged = (fresh_start(run.model, run.train, LR, perturb=p)[0].state_dict() for p in (0, 1))
    for k, w in plain.items():
        moved = (nudged[k] - w).abs() / w.abs().clamp_min(1e-30)
        assert moved.max() < 6 * PERTURBATION and (moved.max() > 0 or not w.any())
    assert len({job_key(job), job_key(job | {"perturb": 0}), job_key(job | {"perturb": 2})}) == 3
    train(run, Path("a"), Path("a.pt"))
    train(run.replace(perturb=0), Path("b"), Path("b.pt"))
    train(run, Path("c"), Path("c.pt"))
    assert same(weights(Path("a/model.pt")), weights(Path("c/model.pt")))
    assert not same(weights(Path("a/model.pt")), weights(Path("b/model.pt")))


def test_a_model_spread_takes_its_nudged_starts_in():
    """Seeds 0-2 spread 0.6 dB; a nudged start of seed 0 lands 0.4 dB under seed 0: the spread is 1.0 dB. A nudged
    run elsewhere (another budget) or with two threads does not count."""
    from tools.budget_report import default_spread

    params = at_width_8_and_450_steps()
    study = runs(d2d=31.0, kpn5_image=30.5)
    nudged = pd.DataFrame([{"model": "d2d", "width": 8, "seed": 0, "steps": 450, "threads": 1, "level": lv,
                            "psnr": 30.6, "perturb": 1} for lv in ("low", "high")]
                          + [{"model": "kpn5_image", "width": 8, "seed": 0, "steps": s, "threads": t, "level": "low",
                              "psnr": 20.0, "perturb": 1} for s, t in ((100, 1), (450, 2))])
    assert default_spread(study, None, params).to_dict() == pytest.approx({"d2d": 0.6, "kpn5_image": 0.6})
    assert default_spread(study, nudged, params).to_dict() == pytest.approx({"d2d": 1.0, "kpn5_image": 0.6})


def fake_run(job: dict) -> list[dict]:
    """A stand-in for tools.budget.run: one row per level, as a trained and scored run gives."""
    return [{k: job[k] for k in ("model", "width", "seed", "steps", "threads", "perturb", "key")}
            | {"cpu_seconds": 1.0, "level": lv, "psnr": 30.0 + job["seed"]} for lv in ("low", "high")]


def test_the_runs_go_through_a_dask_cluster_and_every_row_is_written(tmp_path):
    """The study's engine (tools.budget.train_jobs): each job through a local Dask cluster, one- and two-thread
    runs apart, every row kept, the csv written as runs end (a former study's rows first)."""
    from tools.budget import train_jobs

    jobs = [{"model": "d2d", "width": 8, "seed": s, "steps": 450, "threads": t, "perturb": 0, "key": f"k{s}{t}"}
            for s in (0, 1, 2) for t in (1, 2)]
    former = [{"model": "dncnn", "width": 8, "seed": 0, "steps": 450, "threads": 1, "perturb": 0, "key": "old",
               "cpu_seconds": 2.0, "level": "low", "psnr": 29.0}]
    df = train_jobs(jobs, former, 2, tmp_path / "study.csv", fn=fake_run)
    assert len(df) == 1 + 2 * len(jobs) and set(df.key) == {"old"} | {j["key"] for j in jobs}
    assert sorted(df[df.model == "d2d"].psnr.unique()) == [30.0, 31.0, 32.0]
    assert pd.read_csv(tmp_path / "study.csv").shape == df.shape


def test_the_margins_of_findings_5_and_7_pair_the_runs_seed_by_seed():
    """Seeds 0 and 1 and a nudged start of seed 0: the gap's growth from 120 to 24 fps is 1e-4, 3e-4, 5e-4 and the
    off-reference share with annealing less without 0.10, 0.12, 0.16 (high) and 0.10 each (low): spreads 4e-4
    and 0.06; without the nudged start 2e-4; without the twin no share. Runs at another budget do not count."""
    from tools.budget_report import finding_margins

    params = at_width_8_and_450_steps()
    growth, share = {0: 1e-4, 1: 3e-4, 2: 5e-4}, {0: 0.10, 1: 0.12, 2: 0.16}
    rows = []
    for steps in (450, 100):
        for s in range(3):
            for lv in ("low", "high"):
                base = {"width": 8, "seed": 0 if s == 2 else s, "steps": steps, "threads": 1, "level": lv,
                        "psnr": 30.0, "perturb": 1 if s == 2 else 0}
                extra = 5.0 if steps == 100 else 0.0
                motion = lv == "low"
                rows += [base | {"model": "d2d_per_frame", "mse_120": 2e-4 if motion else None,
                                 "mse_24": 2e-4 + growth[s] + extra if motion else None},
                         base | {"model": "d3d", "mse_120": 1e-4 if motion else None,
                                 "mse_24": 1e-4 if motion else None,
                                 "off_reference": 0.3 + (share[s] if lv == "high" else 0.1) + extra},
                         base | {"model": "d3d_no_annealing", "off_reference": 0.3}]
    df = pd.DataFrame(rows)
    study, nudged = df[df.perturb == 0], df[df.perturb > 0]
    assert finding_margins(study, nudged, params) == pytest.approx({"motion_gap_growth": 4e-4,
                                                                    "off_reference_share": 0.06})
    assert finding_margins(study[study.model != "d3d_no_annealing"], None, params) == pytest.approx(
        {"motion_gap_growth": 2e-4})


def test_a_study_of_runs_naming_a_model_params_lack_stops_in_one_line():
    """Checked when the study runs, not at load: a run trimmed to one study's models need not trim the studies of
    runs too."""
    from core.config import InputError
    from tools.budget import settings

    spec = default_spec()
    assert settings(spec).spread_models == spread_models_of(spec)
    for changes, key in (({"models": ["d2d", "d4d"]}, "budget.models"),
                         ({"spread_models": ["kpn9"]}, "budget.spread_models")):
        with pytest.raises(InputError, match=rf"{key} is .*; it must be keys of `models` \((d4d|kpn9) is not one\)"):
            settings(replace(spec, budget=replace(spec.budget, **changes)))


def spread_models_of(spec):
    from tools.budget import spread_models

    return spread_models(spec, spec.budget.models)
