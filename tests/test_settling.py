"""The settling study (tools/settling.py): which runs it asks for, that its default-budget runs are the budget
study's very runs (read, not trained again), and the thread difference and nudged range it reports."""
import pandas as pd
import pytest

from tests.conftest import default_spec


def row(model, steps, level, psnr, threads=1, perturb=0, seed=0):
    return {"model": model, "width": 8, "seed": seed, "steps": steps, "threads": threads, "perturb": perturb,
            "level": level, "psnr": psnr, "cpu_seconds": steps / 10}


def test_it_asks_for_one_and_two_threads_and_each_nudged_start_at_every_budget():
    from tools.settling import settling_jobs

    jobs = settling_jobs(default_spec(), {"d3d": 3e-3, "direct": 1e-3}, ["d3d", "direct"], [450, 1800], 2)
    got = {(j["model"], j["steps"], j["threads"], j["perturb"]) for j in jobs}
    assert len(jobs) == len(got) == 2 * 2 * 4
    assert ("d3d", 1800, 2, 0) in got and ("direct", 450, 1, 2) in got and ("d3d", 450, 2, 1) not in got
    assert {j["lr"] for j in jobs if j["model"] == "direct"} == {1e-3}
    assert {j["seed"] for j in jobs} == {0} and {j["width"] for j in jobs} == {8}


def test_its_default_budget_runs_have_the_budget_studys_run_keys():
    """So that a settling study after the budget study reads its 450-step runs instead of training them again."""
    from tools.budget import job_key
    from tools.settling import settling_jobs

    params = default_spec()
    n = params.train.steps
    mine = settling_jobs(params, {"kpn5_video": 3e-3}, ["kpn5_video"], [n], 1)
    budget_study = [{"spec": params, "model": "kpn5_video", "width": params.train.width, "seed": 0,
                     "steps": n, "threads": t, "lr": 3e-3, "perturb": p} for t, p in ((1, 0), (2, 0), (1, 1))]
    assert sorted(map(job_key, mine)) == sorted(map(job_key, budget_study))


def test_difference_and_range_per_model_budget_and_level():
    """At 450 steps the 2-thread run is 0.3 dB above, a nudged start 0.5 under; at 1800 all within 0.04 dB. A run of
    another seed does not count, nor a budget without its 2-thread run."""
    from tools.settling import markdown, settling

    df = pd.DataFrame([row("d3d", 450, "low", 34.0), row("d3d", 450, "low", 34.3, threads=2),
                       row("d3d", 450, "low", 33.5, perturb=1), row("d3d", 450, "low", 34.1, perturb=2),
                       row("d3d", 450, "low", 20.0, seed=1),
                       row("d3d", 1800, "low", 35.00), row("d3d", 1800, "low", 35.04, threads=2),
                       row("d3d", 1800, "low", 34.98, perturb=1), row("d3d", 900, "low", 34.5)])
    table = settling(df).set_index("steps")
    assert list(table.index) == [450, 1800]
    assert table.loc[450, "difference"] == pytest.approx(0.3)
    assert table.loc[450, "range"] == pytest.approx(0.6) and table.loc[450, "runs"] == 3
    assert table.loc[450, "mean"] == pytest.approx((34.0 + 33.5 + 34.1) / 3)
    assert table.loc[1800, "difference"] == pytest.approx(0.04) and table.loc[1800, "range"] == pytest.approx(0.02)
    text = markdown(settling(df))
    assert "- 450 steps: 1 against 2 threads 0 of 1; the range of the nudged starts 0 of 1" in text
    assert "- 1800 steps: 1 against 2 threads 1 of 1; the range of the nudged starts 1 of 1" in text
