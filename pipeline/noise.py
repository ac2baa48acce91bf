"""Stage `noise`: seeded degraded test sets, one file per level in `noise.level` (data/noisy/<level>.npz).

Each file holds the degraded test and validation sequences, the colour test sequences (`test_colour`, each R, G
and B plane degraded on its own, as Appendix B draws raw noise per channel), every motion subset and the level's
parameters. A set's seed is derived from `noise.seed`, the level and the set's name, so the same params give the
same bytes and adding a level or a set does not change the others.
"""
from __future__ import annotations


import numpy as np

import degradations  # noqa: F401  (registers the degradations)
from core.config import stage_main
from core.frames import load_shard, save_shard
from core.paths import MOTION_SUBSETS, NOISY, SCENES_TEST, SCENES_TEST_COLOUR, SCENES_VAL
from core.registry import DEGRADATIONS
from core.test_sets import make_test_sets
from core.spec import load_spec
from degradations.raw_noise import level_names

OUT = NOISY


@stage_main
def main() -> None:
    cfg = load_spec().noise
    levels = level_names(cfg.level)
    degradation = DEGRADATIONS.build(cfg.degradation)
    clean = {"test": load_shard(SCENES_TEST)["frames"], "val": load_shard(SCENES_VAL)["frames"],
             "test_colour": load_shard(SCENES_TEST_COLOUR)["frames"]}
    clean |= {k: v for k, v in load_shard(MOTION_SUBSETS).items() if k.startswith("fps_")}
    for level in levels:
        stored = {k: np.float32(v) for k, v in degradation.level(level).items()}
        save_shard(OUT / f"{level}.npz", **stored, **make_test_sets(degradation, clean, level, cfg.seed))
    for stale in OUT.glob("*.npz"):
        if stale.stem not in levels:
            stale.unlink()


if __name__ == "__main__":
    main()
