"""Check that dvc.yaml's deps cover every project module each stage imports (transitively), so that editing
a helper re-runs every stage that uses it, and that dvc.lock holds no stage dvc.yaml no longer has (DVC loads and
rewrites the whole lock after every stage: README, "Where the time goes"): `python -m tools.deps` prints what it
finds and exits 1, or says all is well. tests/test_deps.py runs the same checks."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from core.imports import ROOT, import_closure


def stages(dvc_yaml: dict):
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        yield name, stage.get("do", stage)


def stage_modules(cmd: str) -> list[str]:
    return re.findall(r"python3?\s+-m\s+([\w.]+)", cmd)


def covered(path: Path, deps: list[str], root: Path) -> bool:
    for dep in deps:
        d = root / re.sub(r"\$\{[^}]*\}", "*", dep)
        if path == d or d in path.parents:
            return True
    return False


def misses(root: Path = ROOT) -> list[str]:
    """'stage: file' for every project file a stage's command imports but its deps do not cover."""
    out = []
    for name, stage in stages(yaml.safe_load((root / "dvc.yaml").read_text())):
        deps = [str(d) for d in stage.get("deps") or []]
        for module in stage_modules(stage["cmd"]):
            out += [f"{name}: {f.relative_to(root)}" for f in import_closure(module, root)
                    if not covered(f, deps, root)]
    return out


def stale_locks(root: Path = ROOT) -> list[str]:
    """The stages dvc.lock holds that dvc.yaml (its foreach lists expanded over params.yaml) does not make."""
    from dvc.repo import Repo

    lock = root / "dvc.lock"
    held = yaml.safe_load(lock.read_text()).get("stages", {}) if lock.exists() else {}
    with Repo(str(root), uninitialized=True) as repo:
        made = {stage.name for stage in repo.index.stages}
    return sorted(set(held) - made)


def main() -> None:
    found, stale = misses(), stale_locks()
    if found:
        print(f"{len(found)} imported modules missing from dvc.yaml deps:\n  " + "\n  ".join(found))
    if stale:
        print(f"dvc.lock holds {len(stale)} stages dvc.yaml does not make (remove them): {', '.join(stale)}")
    if found or stale:
        sys.exit(1)
    print("dvc.yaml deps cover every module the stages import; dvc.lock holds only stages of dvc.yaml")


if __name__ == "__main__":
    main()
