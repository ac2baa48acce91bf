"""Stale results: dvc.yaml's deps must cover every project module a stage imports, so that `dvc status` after
editing a helper lists every stage that uses it."""
from __future__ import annotations

import yaml

from core.imports import ROOT, import_closure
from tools.deps import misses, stale_locks
from tests.conftest import copy_project


def test_dvc_yaml_deps_cover_every_imported_module():
    assert misses() == []


def test_the_check_fails_when_a_stage_imports_an_uncovered_module(tmp_path):
    root = copy_project(tmp_path)
    dvc = yaml.safe_load((root / "dvc.yaml").read_text())
    deps = dvc["stages"]["report"]["deps"]
    deps.remove("core")  # the folder, for every core file but one
    deps += [f"core/{p.name}" for p in (root / "core").glob("*.py") if p.name != "metrics.py"]
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc))
    assert misses(root) == ["report: core/metrics.py"]


def test_dvc_lock_holds_only_stages_of_dvc_yaml(tmp_path):
    """A stage removed from dvc.yaml leaves its entries in dvc.lock, which DVC loads and rewrites whole after
    every stage: the check names them."""
    assert stale_locks() == []
    root = copy_project(tmp_path)
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    lock["stages"]["tune@d2d"] = {"cmd": "python -m pipeline.tune d2d"}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert stale_locks(root) == ["tune@d2d"]


def test_the_closure_follows_imports_through_packages():
    files = {str(p.relative_to(ROOT)) for p in import_closure("pipeline.evaluate")}
    # evaluate -> models.checkpoint -> core.registry; evaluate -> core.results -> core.metrics -> core.colour
    assert {"models/checkpoint.py", "core/registry.py", "core/metrics.py", "core/colour.py",
            "models/deformable.py", "models/sampler.py"} <= files
    assert not any(f.startswith(("studies/", "objectives/", "pipeline/train")) for f in files)


STAGES = sorted(p.stem for p in (ROOT / "pipeline").glob("*.py") if p.stem != "__init__")


def test_the_layers_hold():
    """models/ and the other libraries never import the pipeline; no stage imports another stage; no stage
    names a model of params.yaml (the studies do)."""
    from core.imports import direct_imports

    for folder in ("core", "models", "baselines", "degradations", "objectives", "studies"):
        for path in (ROOT / folder).glob("*.py"):
            assert not any(m.startswith("pipeline") for m in direct_imports(path)), path
    model_keys = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    for stage in STAGES:
        path = ROOT / "pipeline" / f"{stage}.py"
        others = {m for m in direct_imports(path) if m.startswith("pipeline.")} - {f"pipeline.{stage}"}
        assert not others, f"{stage} imports {others}"
        text = path.read_text()
        assert not [k for k in model_keys if f'"{k}"' in text or f"'{k}'" in text], stage
