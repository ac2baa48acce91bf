"""Shared fixtures: a copy of the project in a temporary git repository, for stages run end to end."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# pytest-xdist runs the suite in two workers (pyproject.toml), one a core: each worker, and the stages its tests
# start (the training loop reads OMP_NUM_THREADS), keeps to one thread, because two 2-thread torch processes on
# 2 cores run several times slower than two 1-thread ones.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
# Every package (a folder with __init__.py), the profiles, the published figures and the DVC files.
# The code, params and the committed files stages read: the published figures, the frozen studies of runs'
# outputs (the report reads their spreads) and the run the report may set beside (report.beside).
PROJECT_FILES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests") + [
    name for name in ("profiles", "reports/paper", "reports/budget", "reports/budget.md", "reports/settling.md",
                      "reports/long", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore") if (ROOT / name).exists()]


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / name)
    return dest


def default_spec():
    """params.yaml of the checkout, loaded as the stages load it."""
    from core.spec import load_spec

    return load_spec(ROOT / "params.yaml")


def run(cmd: list[str], cwd: Path, check: bool = True, log: Path | None = None) -> subprocess.CompletedProcess:
    """Run cmd in cwd; with `log`, its output goes to that file as it comes (what a killed run leaves behind)."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}  # no usage report from a test run
    if log is None:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    else:
        with open(log, "w") as out:
            proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        proc.stdout, proc.stderr = Path(log).read_text(), ""
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def git_repo(path: Path) -> None:
    run(["git", "init", "-q"], path)
    run(["git", "config", "user.email", "tests@example.com"], path)
    run(["git", "config", "user.name", "tests"], path)
    run(["dvc", "init", "-q"], path)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "project"], path)


def repro_tiny(path: Path, trim=None, log: Path | None = None, targets: tuple[str, ...] = ()) -> Path:
    """The project copied to path under the tiny profile (params trimmed by `trim`), after a full `dvc repro`, or
    one of `targets` and the stages they need (its output streamed to `log` when given)."""
    copy_project(path)
    run(["python", "-m", "tools.profile", "tiny"], path)
    if trim:
        import yaml

        params = yaml.safe_load((path / "params.yaml").read_text())
        trim(params)
        (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git_repo(path)
    proc = run(["dvc", "repro", *targets], path, log=log)
    (path / "repro.log").write_text(proc.stdout)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "tiny run"], path)
    return path


# The two files whose tests share a tiny run go first, end-to-end (the longest) first: xdist then hands them to the
# two workers at the start (pyproject.toml turns off its reordering by test count), and the other files fill in
# around their runs, rather than a tiny run starting last on a worker that has already run other files.
FIRST = ("test_end_to_end.py", "test_reruns.py")


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> Path:
    """The project under the tiny profile, after a full `dvc repro` (shared by the end-to-end tests)."""
    return repro_tiny(tmp_path_factory.mktemp("tiny"))


def ssl_only(params: dict) -> None:
    """One study's models and methods (ssl): a pipeline of every stage kind at a quarter of the stages."""
    keep = {"n2c", "n2n", "n2v", "hqssl"}
    params["models"] = {k: v for k, v in params["models"].items() if k in keep}
    params["baselines"] = {k: v for k, v in params["baselines"].items() if k in ("reference_frame", "bm3d")}
    params["report"]["studies"] = ["ssl"]


@pytest.fixture(scope="session")
def ssl_project(tmp_path_factory) -> Path:
    """The tiny profile trimmed to study ssl, after a full `dvc repro`: for the tests that re-run part of the
    pipeline (a second worker builds it while the first builds tiny_project)."""
    return repro_tiny(tmp_path_factory.mktemp("ssl"), ssl_only)
