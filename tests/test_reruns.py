"""`dvc exp run -S noise.level=high` re-runs only what depends on the noise level, and a refused setting deletes
nothing: on the tiny profile trimmed to one study (every stage kind, a quarter of the stages), in a file of its
own so that a second test worker runs it beside the full tiny run of test_end_to_end.py."""
import json
import re

from tests.conftest import run


def test_a_new_noise_level_reruns_noise_baselines_evaluation_and_report_only(ssl_project):
    proc = run(["dvc", "exp", "run", "-S", "noise.level=high"], ssl_project)
    ran = set(re.findall(r"Running stage '([^']+)'", proc.stdout))
    assert "noise" in ran and "report" in ran
    # own_data@ trains on the noisy test frames themselves: a new noise level is new training data there
    assert {s.split("@")[0] for s in ran} == {"check", "noise", "baselines", "evaluate", "own_data", "report"}
    assert not any(s.startswith(("train", "scenes", "motion", "render")) for s in ran)


def test_the_findings_margins_are_the_budget_studys_file_and_a_new_spread_reruns_the_report_alone(ssl_project):
    """The margins are an output of the budget study (report.spreads), a dependency of the report stage: a spread
    changed there re-runs the report only, and its verdicts are decided with the new margin."""
    spreads = ssl_project / "reports/budget/spreads.json"
    before = (ssl_project / "reports/tables.md").read_text()
    measured = json.loads(spreads.read_text())
    assert f"A difference within {measured['margin_db']:.2f} dB" in before
    spreads.write_text(json.dumps({**measured, "margin_db": 0.05}))
    proc = run(["dvc", "repro"], ssl_project)
    assert set(re.findall(r"Running stage '([^']+)'", proc.stdout)) == {"report"}
    after = (ssl_project / "reports/tables.md").read_text()
    assert "A difference within 0.05 dB" in after and "A difference within 0.05 dB" not in before


def test_one_study_alone_is_written_apart_and_leaves_the_stage_outputs_as_dvc_made_them(ssl_project):
    """`python -m pipeline.report ssl` (what tools/study.py runs last) writes reports/study/ssl/; the report
    stage's outputs keep their bytes, so `dvc status` still finds the pipeline up to date."""
    run(["dvc", "repro"], ssl_project)
    before = (ssl_project / "reports/tables.md").read_bytes()
    run(["python", "-m", "pipeline.report", "ssl"], ssl_project)
    alone = (ssl_project / "reports/study/ssl/tables.md").read_text()
    assert "# Study `ssl`" in alone and (ssl_project / "reports/study/ssl/figures/figure_ssl_crops.png").is_file()
    assert (ssl_project / "reports/tables.md").read_bytes() == before
    assert "Data and pipelines are up to date" in run(["dvc", "status"], ssl_project).stdout


def test_dvc_exp_show_reads_in_80_columns(ssl_project):
    """The README's `dvc exp show` (reports/summary.json and the param changed) shows its figures whole in an
    80-column terminal, not a row of ellipses (this project reports study ssl alone: its findings held)."""
    import os
    import subprocess

    cmd = ["dvc", "exp", "show", "--no-pager", "--drop", ".*", "--keep",
           "Experiment|noise.level|held_xu2019|held_ssl|d2d|bm3d|d3d|bm4d"]
    proc = subprocess.run(cmd, cwd=ssl_project, capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": "80", "DVC_NO_ANALYTICS": "1"})
    summary = json.loads((ssl_project / "reports/summary.json").read_text())
    lines = proc.stdout.splitlines()
    workspace = next(line.split() for line in lines if "workspace" in line)
    experiment = next(line.split() for line in lines if "└──" in line)  # the noise.level=high run above
    assert "held_ssl" in proc.stdout and "…" not in proc.stdout and max(len(line) for line in lines) <= 80
    assert workspace[1] == str(summary["held_ssl"]) and experiment[3].isdigit() and experiment[4] == "high"


def folder_bytes(project, folders) -> dict:
    return {str(p.relative_to(project)): p.read_bytes() for f in folders for p in sorted((project / f).rglob("*"))
            if p.is_file()}


def test_a_bad_input_stops_dvc_repro_before_any_stage_that_reads_it_removes_its_outputs(ssl_project):
    """Inputs the scenes, motion and blur stages would refuse only after DVC removed their outputs (badly numbered
    frames under motion.source, two videos of one name, a test video not among the videos) stop `dvc repro` at
    the inputs stage in one line, and data/scenes, data/motion and data/blur keep every byte. After every test
    that reruns the pipeline: it leaves the inputs stage to run again."""
    import shutil

    import cv2
    import numpy as np
    import yaml

    kept = ["data/scenes", "data/motion", "data/blur"]
    before = folder_bytes(ssl_project, kept)
    params_file = ssl_project / "params.yaml"
    original = params_file.read_text()
    clip = ssl_project / "adobe240" / "clip1"
    clip.mkdir(parents=True)
    for k in range(45):
        cv2.imwrite(str(clip / f"{k}.png"), np.full((48, 64, 3), k * 5, np.uint8))
    (ssl_project / "more").mkdir()
    shutil.copy(ssl_project / "data/rendered/videos/rendered_04.avi", ssl_project / "more/rendered_04.avi")
    cases = [("motion", "source", "adobe240", "numbered with unequal widths"),
             ("scenes", "videos", None, "scenes.videos gives rendered_04 more than once"),
             ("scenes", "test_videos", None, "scenes.test_videos names nosuch, which is not among the videos")]
    for section, key, value, expected in cases:
        params = yaml.safe_load(original)
        params[section][key] = {"videos": params["scenes"]["videos"] + ["more/rendered_04.avi"],
                                "test_videos": params["scenes"]["test_videos"] + ["nosuch"]}.get(key, value)
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        proc = run(["dvc", "repro"], ssl_project, check=False)
        assert proc.returncode != 0 and expected in proc.stdout + proc.stderr
        assert "Running stage 'inputs'" in proc.stdout and "Running stage 'scenes'" not in proc.stdout
        assert folder_bytes(ssl_project, kept) == before, f"{section}.{key}: an output changed"
    params_file.write_text(original)
    run(["dvc", "repro"], ssl_project)
    assert folder_bytes(ssl_project, kept) == before


def test_a_rejected_setting_stops_before_any_output_is_deleted(ssl_project):
    """After the test above, which leaves the inputs stage to run again: `dvc exp run` stops at the check stage."""
    kept = ["data/noisy", "data/scenes"]
    before = folder_bytes(ssl_project, kept)
    try:
        for setting in ("noise.level=HIGH", "data.tau=-1"):
            proc = run(["dvc", "exp", "run", "-S", setting], ssl_project, check=False)
            assert proc.returncode != 0
            assert "data.tau is -1" in proc.stderr or "noise.level is 'HIGH'" in proc.stderr
            assert folder_bytes(ssl_project, kept) == before, f"{setting}: an output changed"
    finally:
        run(["git", "checkout", "params.yaml"], ssl_project)
        run(["dvc", "checkout", "data/params.ok"], ssl_project)  # the refused check had removed it first
