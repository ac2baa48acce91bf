"""Stage `inputs`: the videos of `scenes.videos` and the clips of `motion.source` checked from their headers
and first frames (core/inputs.py), after `render` made the embedded ones and before `scenes`, `motion` and
`blur` read them: a bad input stops the run here, so DVC never removes those stages' outputs for it."""
from __future__ import annotations

from pathlib import Path

from core.config import atomic_write, stage_main
from core.inputs import check_clips, check_videos
from core.paths import INPUTS_OK
from core.spec import load_spec


@stage_main
def main() -> None:
    spec = load_spec()
    check_videos(spec)
    check_clips(spec)
    # The same bytes whatever the inputs: the stages after it re-run for their own deps, not for this file.
    atomic_write(INPUTS_OK, lambda tmp: Path(tmp).write_text("the videos and clips params name are readable\n"))


if __name__ == "__main__":
    main()
