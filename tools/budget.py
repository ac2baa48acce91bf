"""The training-budget study: test PSNR against training CPU-seconds for DnCNN, KPN 5x5, Deformable 2D,
Deformable 3D and KPN 7x7 on video (the weakest learned model of Table 3), at two widths and three seeds, with the
classical methods as horizontal lines; and the seed spread and thread stability of every other learned model of
Tables 2-4 at the default width and budget.

    python -m tools.runs budget      # DVC stage `budget` (frozen: `dvc repro` never runs it), after `dvc repro`:
                                     # it reads the test sets, the tuned rates and params `budget`

Every point is a separate training run to its own budget (the default recipe: warm-up, the decay of
train.schedule, the rate the default run chose for the model), one thread per run, two runs side by side. It also
trains every model at the default width and budget once more with two threads (one such run at a time): float
sums in another order, a cheap proxy for another machine, and prints that difference per model beside the range
of `budget.perturbations` more one-thread runs of seed 0, each from its start weights nudged by 1e-6 of themselves:
how far a float-level change of the run, which is all a thread count or a CPU changes, can move it. Writes
reports/budget/budget.csv, reports/budget/figure_budget.png and reports/budget.md. A rerun trains again only the
runs whose run key (params, rate, training data and training code: engine.train.run_key) is not in budget.csv.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from core.paths import model_folder
from core.spec import Budget, Spec, replace
from engine.run import Run, run_key
from tools.budget_report import DNCNN_PER_WIDTH, MODELS, OUT, report, with_perturb


def sized(spec: Spec, name: str, width: int) -> Spec:
    """The spec with model `name` at U-Net width `width` (DnCNN: its own width, DNCNN_PER_WIDTH x that)."""
    entry = spec.models[name]
    if entry.arch == "dncnn":
        wide = replace(entry, args={**entry.args, "width": DNCNN_PER_WIDTH * width})
        return replace(spec, models={**spec.models, name: wide})
    return replace(spec, train=replace(spec.train, width=width, weight_width=2 * width))


def job_run(job: dict) -> Run:
    """The run of one job: its model at the job's width, its budget, seed, thread count and nudged start."""
    spec = sized(job["spec"], job["model"], job["width"])
    return Run.of(spec, job["model"], job["lr"], perturb=job["perturb"]).replace(
        steps=job["steps"], seed=job["seed"], threads=job["threads"])


def job_key(job: dict) -> str:
    """The run key of a job's run (engine/run.py): a row of budget.csv with this key is that very run, still
    valid."""
    return run_key(job_run(job))


def with_keys(jobs: list[dict], tool: str) -> list[dict]:
    """Each job given its run key (job_key); params that cannot build a model end `tool` in one line."""
    from core.config import InputError

    try:
        for j in jobs:
            j["key"] = job_key(j)
    except InputError as e:
        raise SystemExit(f"{tool}: {e}")
    return jobs


def run(job: dict) -> list[dict]:
    """Train one (model, width, seed, steps, threads, perturbed start) and score it on the test sets of every
    level of its degradation."""
    import torch

    from core.frames import load_shard
    from core.results import figure8_level, noisy_levels, result_rows, score_sequences
    from degradations import degradation_for
    from engine.infer import run_model
    from engine.train import Diverged, train
    from models.checkpoint import load_model
    from models.compute import device

    run_ = job_run(job)
    torch.set_num_threads(job["threads"])
    with tempfile.TemporaryDirectory() as tmp:
        began = time.process_time()
        try:
            train(run_, Path(tmp), Path(tmp) / "ck.pt")
        except Diverged:
            return []
        cpu = time.process_time() - began
        model = load_model(Path(tmp) / "model.pt", device(run_.train.device))
    d = degradation_for(run_.entry)
    test = load_shard(d.clean_test)
    tau = test["frames"].shape[1] // 2
    rows, levels = [], noisy_levels(d.test_folder)
    motion_level = figure8_level(levels).stem
    for path in levels:
        noisy = load_shard(path)
        out, _, auxes = run_model(model, noisy["test"], d, d.stored_level(noisy))
        avg = result_rows(score_sequences(out, test["frames"][:, tau]), test["subset"], [0], "", False, path.stem)[-1]
        rows.append({k: job[k] for k in ("model", "width", "seed", "steps", "threads", "perturb", "key")}
                    | {"cpu_seconds": round(cpu, 1), "level": path.stem, "psnr": avg["psnr"]}
                    | finding_quantities(model, d, noisy, auxes, run_.entry.motion and path.stem == motion_level))
    return rows


def finding_quantities(model, d, noisy: dict, auxes: list, figure8: bool) -> dict[str, float]:
    """What findings (5) and (7) measure, for their spread over seeds: the share of a deformable kernel's samples
    off the reference frame (finding 7), and for a model of Figure 8 at the level Figure 8 is measured at
    (`figure8`), its MSE on each frame-rate subset (mse_<fps>, finding 5)."""
    from core.frames import load_shard
    from core.paths import MOTION_SUBSETS
    from engine.infer import motion_curve

    out = {}
    shares = model.diagnostics(auxes).get("temporal_shares")
    if shares is not None:
        out["off_reference"] = 1 - shares[len(shares) // 2]
    if figure8:
        curve = motion_curve(model, noisy, load_shard(MOTION_SUBSETS), d, d.stored_level(noisy))
        out |= {f"mse_{fps}": mse for fps, mse in curve.items()}
    return out


def chosen_rates(names: list[str]) -> dict[str, float]:
    """The peak rate the default run chose for each model (its tune.json): a study trains every model at it."""
    tuned = [model_folder(m) / "tune.json" for m in names]
    if missing := [str(t) for t in tuned if not t.is_file()]:
        raise SystemExit(f"tools: {missing[0]} is missing; run `dvc repro` first (the study trains at the rates "
                         "the default run chose)")
    return {m: json.loads(t.read_text())["lr"] for m, t in zip(names, tuned)}


def spread_models(spec: Spec, curves: list[str]) -> list[str]:
    """Every other learned model of Tables 2-4: each finding's margin is the measured spread of its own models."""
    return [m for m, e in spec.models.items() if {2, 3, 4} & set(e.tables) and m not in curves]


def still_valid(old: pd.DataFrame | None, jobs: list[dict]) -> tuple[pd.DataFrame, list[dict]]:
    """The rows of a former study that are runs of this one (the same run key: nothing that shapes the run has
    changed since), and the jobs left to train. A row of a job no longer asked for is dropped."""
    if old is None or "key" not in old:
        return pd.DataFrame(), list(jobs)
    kept = old[old["key"].isin({j["key"] for j in jobs})]
    return kept, [j for j in jobs if j["key"] not in set(kept["key"])]


def settings(spec: Spec) -> Budget:
    """params `budget`, its spread models named (auto: every learned model of Tables 2-4 without a curve); a
    model without a classical target to draw against ends the study in one line."""
    b = spec.budget
    spec.need_models("budget.models", b.models)
    if untargeted := [m for m in b.models if m not in MODELS]:
        raise SystemExit(f"tools.budget: budget.models names {', '.join(untargeted)}, which has no classical target "
                         f"to draw against; name models from {', '.join(MODELS)}")
    if b.spread_models == "auto":
        return replace(b, spread_models=spread_models(spec, b.models))
    spec.need_models("budget.spread_models", b.spread_models)
    return b


def jobs_of(spec: Spec, b: Budget, lrs: dict[str, float]) -> list[dict]:
    """Every run the study asks for, each once: the curves, the spread models' seeds, one two-thread run of every
    model and its nudged starts, all at the rates the default run chose."""
    base_w, base_n = spec.train.width, spec.train.steps
    job = lambda m, w, s, n, t, p=0: {"spec": spec, "model": m, "width": w, "seed": s,  # noqa: E731
                                      "steps": n, "threads": t, "lr": lrs[m], "perturb": p}
    names = b.models + b.spread_models
    jobs = [job(m, w, s, n, 1) for m in b.models for w in b.widths
            for s in (b.seeds if w == b.widths[0] else b.wide_seeds) for n in b.steps]
    jobs += [job(m, base_w, s, base_n, 1) for m in b.spread_models for s in b.seeds]
    jobs += [job(m, base_w, 0, base_n, 2) for m in names]  # the stability of every model
    jobs += [job(m, base_w, 0, base_n, 1, p) for m in names for p in range(1, b.perturbations + 1)]
    unique = {}
    for j in jobs:
        unique.setdefault(tuple(j[k] for k in ("model", "width", "seed", "steps", "threads", "perturb")), j)
    return list(unique.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from reports/budget/budget.csv")
    args = ap.parse_args()
    from core.config import InputError
    from core.spec import load_spec

    try:
        spec = load_spec()
        b = settings(spec)
    except InputError as e:
        raise SystemExit(f"tools.budget: {e}")
    if args.report_only:
        report(pd.read_csv(OUT / "budget.csv"), spec, b)
        return
    jobs = with_keys(jobs_of(spec, b, chosen_rates(b.models + b.spread_models)), "tools.budget")
    kept, todo = still_valid(pd.read_csv(OUT / "budget.csv") if (OUT / "budget.csv").is_file() else None, jobs)
    print(f"{len(jobs)} runs: {len(jobs) - len(todo)} kept from {OUT / 'budget.csv'}, {len(todo)} to train",
          flush=True)
    df = train_jobs(todo, with_perturb(kept).to_dict("records"), b.jobs, OUT / "budget.csv")
    report(df, spec, b)


def cluster(workers: int):
    """A Dask client: the scheduler that dask's config names (DASK_SCHEDULER_ADDRESS=tcp://host:8786), so that
    the runs fan out over the machines of a cluster without a code change, or else a cluster on this machine of
    `workers` one-task worker processes."""
    import dask
    from dask.distributed import Client, LocalCluster

    # Workers start with the environment of this process: Dask's own (a fixed MALLOC_TRIM_THRESHOLD_ among it)
    # made a Deformable 2D run take 25% more CPU-s here (docs/recipe.md).
    dask.config.set({"distributed.nanny.pre-spawn-environ": {}})
    if dask.config.get("scheduler-address", None):
        return Client()
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"))


def train_jobs(todo: list[dict], rows: list[dict], cores: int, csv: Path, fn=None) -> pd.DataFrame:
    """Each job of `todo` run by fn (`run`: train and score) on a Dask cluster, each row added to `rows` and the
    whole written to `csv` as every run ends (an interrupted study resumes from there); the rows in the end."""
    from dask.distributed import as_completed

    fn = fn or run
    csv.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    for threads in sorted({j["threads"] for j in todo}):
        batch = sorted((j for j in todo if j["threads"] == threads), key=lambda j: -j["steps"] * j["width"])
        # `cores` in all: two-thread runs go half as many at a time (more threads than cores run several
        # times slower); longest first, so that the workers end together
        with cluster(max(1, cores // threads)) as client:
            for future in as_completed(client.map(fn, batch, pure=False)):
                result = future.result()
                rows, done = rows + result, done + 1
                print(f"[{done}/{len(todo)}] " + "; ".join(
                    f"{r['model']} w{r['width']} s{r['seed']} {r['steps']} steps t{r['threads']} "
                    + (f"p{r['perturb']} " if r["perturb"] else "") + f"{r['level']} "
                    f"{r['psnr']:.2f} dB ({r['cpu_seconds']} s)" for r in result), flush=True)
                pd.DataFrame(rows).to_csv(csv, index=False, float_format="%.6g")
    df = pd.DataFrame(rows)
    df.to_csv(csv, index=False, float_format="%.6g")
    return df


if __name__ == "__main__":
    main()
