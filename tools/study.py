"""Reproduce one study alone: the stages its tables need, then its report.

    python -m tools.study ssl        # training without clean data: 12.7 min from scratch on 2 cores
    python -m tools.study xu2019     # the reproduction of Xu et al. 2019: 36 minutes from scratch on 2 cores
    python -m tools.study gauss      # NLRN on Gaussian noise
    python -m tools.study deblur     # SVRNN on blur made from 240 fps frames

It runs `dvc repro` on the train@, evaluate@, baselines@ and own_data@ stages of the params entries in the
study's tables (DVC brings the data stages they need up to date, and skips what is; `--force` recomputes them
all), then the report with that study's section only. The full `dvc repro` assembles every study of `report.studies`.
"""
from __future__ import annotations

import subprocess
import sys

import studies  # noqa: F401  (registers the studies)
from core.config import InputError, stage_main
from core.paths import REPORTS
from core.registry import STUDIES
from core.spec import Spec, load_spec
from studies.base import keys_in_tables


def stages(spec: Spec, study: str) -> list[str]:
    """The dvc stages whose outputs the study reads."""
    tables = STUDIES.get(study).tables
    models = keys_in_tables(spec, tables, ("models",))
    return ([f"{s}@{k}" for k in models for s in ("train", "evaluate")]
            + [f"baselines@{k}" for k in keys_in_tables(spec, tables, ("baselines",))]
            + [f"own_data@{k}" for k in spec.own_data.test_frames if k in models])


@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    force = "--force" in argv  # recompute the study's stages (and the data stages under them) from scratch
    argv = [a for a in argv if a != "--force"]
    if len(argv) != 1 or argv[0] not in STUDIES:
        raise InputError(f"usage: python -m tools.study <{'|'.join(sorted(STUDIES))}> [--force]")
    repro = ["dvc", "repro", *(["--force"] if force else []), *stages(load_spec(), argv[0])]
    for cmd in (repro, [sys.executable, "-m", "pipeline.report", argv[0]]):
        if subprocess.run(cmd).returncode:
            raise SystemExit(1)
    print(f"wrote {REPORTS / 'study' / argv[0] / 'tables.md'} (study {argv[0]} alone); reports/tables.md is the "
          "full run's, as `dvc repro` wrote it")



if __name__ == "__main__":
    main()
