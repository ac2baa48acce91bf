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
PROJECT_FILES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests") + [
    "profiles", "reports/paper", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"]


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / name)
    return dest


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}  # no usage report from a test run
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
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


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> Path:
    """The project under the tiny profile, after a full `dvc repro` (shared by the end-to-end tests)."""
    path = copy_project(tmp_path_factory.mktemp("tiny"))
    run(["python", "-m", "tools.profile", "tiny"], path)
    git_repo(path)
    proc = run(["dvc", "repro"], path)
    (path / "repro.log").write_text(proc.stdout)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "tiny run"], path)
    return path
