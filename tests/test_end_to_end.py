"""`dvc repro` of the tiny profile in a temporary git repository: every table and figure, the data contracts,
a second repro with nothing to do, rejected settings and stale helpers (the partial re-runs: test_reruns.py)."""
import re

import pandas as pd
import yaml

from tests.conftest import run

CONTRACT = ["table", "method", "blind", "level", "subset", "psnr", "ssim"]


def test_tiny_repro_writes_every_table_and_figure(tiny_project):
    md = (tiny_project / "reports/tables.md").read_text()
    for table in ("Table 2", "Table 3", "Table 4"):
        for level in ("low", "high"):
            assert f"## {table}" in md and f", {level} noise" in md
    assert "## Table ssl, low noise" in md and "## Table ssl, high noise" in md
    assert "## Table gauss, sigma 25" in md and "## Table deblur, 13 frames averaged" in md
    assert "### Table colour, low noise" in md and "### Table colour, high noise" in md
    # the seven findings of Xu 2019 and its Appendix B's, the three of study ssl, three of study gauss, two of deblur
    assert md.count("| (") == 8 + 3 + 3 + 2
    assert "not measured" not in md  # each study finds its own rows (and levels) in results.csv
    figures = {p.name for p in (tiny_project / "reports/figures").glob("*.png")}
    assert figures == {"figure5_crops_table2.png", "figure5_crops_table3.png", "figure8_motion.png",
                       "figure9_temporal.png", "figure10_kernels.png", "figure_ssl_crops.png",
                       "figure_deblur_crops.png", "figure12_colour.png"}


def test_a_second_repro_has_nothing_to_do(tiny_project):
    """Stages write Python's and numba's caches into the code folders they depend on (numba compiles the SVRNN
    scan inside a training stage); hashed as code, they made every stage that ran earlier look stale."""
    assert list(tiny_project.glob("*/__pycache__/*.nbi")), "no numba cache written: this test checks nothing"
    assert "Data and pipelines are up to date" in run(["dvc", "status"], tiny_project).stdout


def test_results_and_motion_follow_their_contracts(tiny_project):
    results = pd.read_csv(tiny_project / "reports/results.csv", dtype={"subset": str, "table": str})
    assert list(results.columns) == CONTRACT
    paper = pd.read_csv(tiny_project / "reports/paper/xu2019_tables.csv", comment="#")
    assert list(paper.columns) == CONTRACT
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    assert set(results.subset) == {"1", "2", "3", "4", "avg"}
    assert set(results.level) == {"low", "high", "s15", "s25", "s50", "n7", "n13"}
    assert set(results.table) == {"2", "3", "4", "ssl", "gauss", "deblur", "colour"}
    assert results.psnr.between(5, 80).all() and results.ssim.between(-1, 1).all()
    labels = {e["label"] for e in params["models"].values()} | {e["label"] for e in params["baselines"].values()}
    own = {lab for group in ("models", "baselines") for e in params[group].values()
           for lab in (e.get("table_labels") or {}).values()}
    on_test = {params["models"][k]["label"] + " (trained on the test frames)"
               for k in params["own_data"]["test_frames"]}
    assert set(results.method) <= labels | own | on_test
    assert on_test <= set(results[results.table == "ssl"].method)
    motion = pd.read_csv(tiny_project / "reports/motion.csv")
    assert list(motion.columns) == ["method", "fps", "mse"]
    assert sorted(set(motion.fps)) == [24, 30, 40, 48, 60, 80, 120]
    manifest = pd.read_csv(tiny_project / "data/scenes/manifest.csv")
    assert list(manifest.columns) == ["video", "scene", "start_frame", "end_frame", "fps", "split"]
    assert set(manifest[manifest.split == "test"].video) == set(params["scenes"]["test_videos"])


def test_the_reference_frame_row_is_the_noisy_input(tiny_project):
    """The report's numbers come from the data: the no-denoising row equals PSNR of the noisy references."""
    import numpy as np

    from core.frames import load_shard
    from core.metrics import srgb_scores

    test = load_shard(tiny_project / "data/scenes/test.npz")
    noisy = load_shard(tiny_project / "data/noisy/low.npz")["test"]
    scores = np.array([srgb_scores(n[2], c[2]) for n, c in zip(noisy, test["frames"])])
    per_subset = [scores[test["subset"] == s, 0].mean() for s in (1, 2, 3, 4)]
    results = pd.read_csv(tiny_project / "reports/results.csv", dtype={"subset": str})
    row = results[(results.method == "Reference frame") & (results.level == "low") & (results.subset == "avg")]
    assert row.psnr.iloc[0] == __import__("pytest").approx(np.mean(per_subset), abs=1e-4)


def test_editing_a_helper_makes_every_stage_that_imports_it_stale(tiny_project):
    path = tiny_project / "core/colour.py"
    text = path.read_text()
    try:
        path.write_text(text + "\n# edited\n")
        status = run(["dvc", "status"], tiny_project).stdout
        stale = set(re.findall(r"^(\S+):\s*$", status, re.M))
        # colour is imported (through frames) by every stage
        assert {"render", "scenes", "motion", "noise", "report"} <= stale
        assert any(s.startswith("train@") for s in stale) and any(s.startswith("evaluate@") for s in stale)
    finally:
        path.write_text(text)


def test_another_run_is_set_beside_and_its_findings_decided_again(tiny_project):
    """report.beside: a run that `python -m pipeline.report xu2019` wrote (the long profile's, in the suite) is
    decided again by this code, beside this run; a folder without its files is refused in one line."""
    import shutil

    alone, other = tiny_project / "reports/study/xu2019", tiny_project / "other_run"
    try:
        run(["python", "-m", "pipeline.report", "xu2019"], tiny_project)
        shutil.copytree(alone, other)
        results = pd.read_csv(other / "results.csv", dtype={"subset": str, "table": str})
        d2d = (results.table == "2") & (results.method == "Deformable 2D")
        results.loc[d2d, "psnr"] += 10.0  # far above KPN and DnCNN: finding (1) holds there
        results.to_csv(other / "results.csv", index=False)
        params = yaml.safe_load((tiny_project / "params.yaml").read_text())
        for beside in ("nowhere", "other_run"):
            params["report"]["beside"] = beside
            (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            proc = run(["python", "-m", "pipeline.report", "xu2019"], tiny_project, check=False)
            if beside == "nowhere":
                assert proc.returncode != 0
                assert "report.beside names nowhere, which lacks results.csv" in proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 0, proc.stderr
        main, grows = (alone / "tables.md").read_text().split("## As the budget grows")
        assert "| | this run (tiny profile, 3 steps) | tiny profile (3 steps) |" in grows
        # the seven findings (Appendix B's, (8), needs colour outputs that another run's report does not keep)
        verdicts = {c: v for c, v in re.findall(r"^\| (\(\d\)[^|]*?) \| ([a-z ]+) \| [^|]+ \|$", main, re.M)
                    if not c.startswith("(8)")}
        both = {c: (a, b) for c, a, b in re.findall(r"^\| (\(\d\)[^|]*?) \| ([a-z ]+) \| ([a-z ]+) \|$", grows, re.M)}
        assert len(both) == 7 and {c: a for c, (a, _) in both.items()} == verdicts
        first = next(c for c in both if c.startswith("(1)"))
        assert both[first][1] == "holds"
        md = grows
        gaps = re.search(r"^\| Deformable 2D - BM3D \| ([-+.\d]+) / ([-+.\d]+) \| ([-+.\d]+) / ([-+.\d]+) \|$", md,
                         re.M)
        assert abs(float(gaps[3]) - float(gaps[1]) - 10.0) < 0.011
        assert abs(float(gaps[4]) - float(gaps[2]) - 10.0) < 0.011
    finally:
        run(["git", "checkout", "params.yaml"], tiny_project)
        shutil.rmtree(other, ignore_errors=True)


def test_a_study_of_runs_is_a_frozen_stage_that_runs_by_name(tiny_project):
    """`dvc repro` never runs the budget study (frozen: the tiny repro above did not); `python -m tools.runs budget`
    runs it alone under DVC with params `budget`, gives dvc.yaml back as it was, and leaves the report stage, which
    reads its spreads, stale."""
    import json

    assert "Running stage 'budget'" not in (tiny_project / "repro.log").read_text()
    dvc_yaml = (tiny_project / "dvc.yaml").read_text()
    try:
        params = yaml.safe_load((tiny_project / "params.yaml").read_text())
        params["budget"].update(models=["d2d"], spread_models=["d3d"], widths=[2], seeds=[0, 1], wide_seeds=[0],
                                steps=[3], perturbations=1)
        (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        proc = run(["python", "-m", "tools.runs", "budget"], tiny_project)
        assert re.findall(r"Running stage '([^']+)'", proc.stdout) == ["budget"]
        assert (tiny_project / "dvc.yaml").read_text() == dvc_yaml
        spreads = json.loads((tiny_project / "reports/budget/spreads.json").read_text())
        assert set(spreads["seed_spread_db"]) == {"d2d", "d3d"} and "2 seeds and 1 starts" in spreads["study"]
        rows = pd.read_csv(tiny_project / "reports/budget/budget.csv")
        # d2d and d3d: seeds 0 and 1, two threads, one nudged start; one row per level
        assert len(rows) == 2 * 4 * 2 and set(rows.steps) == {3}
        status = run(["dvc", "status"], tiny_project).stdout
        # check: its params changed (every param is checked first); report: it reads the new spreads
        assert set(re.findall(r"^(\S+):\s*$", status, re.M)) == {"check", "report"}
    finally:
        run(["git", "checkout", "--", "params.yaml", "dvc.lock", "reports"], tiny_project)


def test_new_data_of_one_degradation_makes_only_its_models_stale(tiny_project):
    """A train stage depends on its model's hashes of the training data its degradation reads (stage train_inputs),
    not on every study's data: changed blur validation windows leave train@ stale for study deblur's two models
    alone."""
    import numpy as np

    from core.frames import load_shard, save_shard

    val = tiny_project / "data/blur/val.npz"
    original = val.read_bytes()
    try:
        shard = load_shard(val)
        save_shard(val, frames=shard["frames"] * 0.5)
        run(["dvc", "repro", "--single-item", "train_inputs"], tiny_project)
        status = run(["dvc", "status"], tiny_project).stdout
        stale = {s for s in re.findall(r"^(\S+):\s*$", status, re.M) if s.startswith("train@")}
        assert stale == {"train@svrnn", "train@unet_deblur"}
        assert not np.array_equal(load_shard(val)["frames"], shard["frames"])
    finally:
        val.write_bytes(original)
        run(["dvc", "repro", "--single-item", "train_inputs"], tiny_project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], tiny_project).stdout
