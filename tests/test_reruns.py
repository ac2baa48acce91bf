"""`dvc exp run -S noise.level=high` re-runs only what depends on the noise level: on the tiny profile trimmed to
one study (every stage kind, a quarter of the stages), in a file of its own so that a second test worker runs it
beside the full tiny run of test_end_to_end.py."""
import re

from tests.conftest import run


def test_a_new_noise_level_reruns_noise_baselines_evaluation_and_report_only(ssl_project):
    proc = run(["dvc", "exp", "run", "-S", "noise.level=high"], ssl_project)
    ran = set(re.findall(r"Running stage '([^']+)'", proc.stdout))
    assert "noise" in ran and "report" in ran
    # own_data@ trains on the noisy test frames themselves: a new noise level is new training data there
    assert {s.split("@")[0] for s in ran} == {"check", "noise", "baselines", "evaluate", "own_data", "report"}
    assert not any(s.startswith(("train", "scenes", "motion", "render")) for s in ran)
