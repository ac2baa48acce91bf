"""Run a study of runs by name: `python -m tools.runs budget` (or `settling`), after `dvc repro`.

The studies of runs (tools/budget.py, tools/settling.py) are DVC stages that dvc.yaml freezes, so that `dvc repro`
never runs them: they train for hours. This unfreezes one for the length of its run, reproduces it alone (`dvc
repro --force --single-item`: the stages it reads must be up to date) and gives dvc.yaml back as it was. DVC
records the run in dvc.lock, and the report stage, which reads the budget study's spreads, runs again at the next
`dvc repro`. A study keeps its runs by run key (engine/run.py): a run made before is read, not trained again.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.config import InputError, stage_main

STAGES = ("budget", "settling")


def run_study(stage: str, root: Path = Path(".")) -> int:
    """The study's stage reproduced, unfrozen for the length of its run; its exit status."""
    dvc_yaml = root / "dvc.yaml"
    text = dvc_yaml.read_text()
    try:
        subprocess.run(["dvc", "unfreeze", stage], cwd=root, check=True, stdout=subprocess.DEVNULL)
        return subprocess.run(["dvc", "repro", "--force", "--single-item", stage], cwd=root).returncode
    finally:
        dvc_yaml.write_text(text)  # frozen again, with its comments (dvc freeze would rewrite the stage)


@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in STAGES:
        raise InputError(f"usage: python -m tools.runs <{'|'.join(STAGES)}>")
    if code := run_study(argv[0]):
        raise SystemExit(code)


if __name__ == "__main__":
    main()
