"""One parametrised test over every registered model (after deepinv's tests/test_models.py)."""
import subprocess
import sys

import pytest
import torch

import models
from core.imports import ROOT
from core.spec import ModelEntry, Spec, load_spec, replace
from models.checkpoint import model_spec
from objectives.losses import reconstruction_loss
from degradations.raw_noise import add_noise, noise_map

VIDEO = {"deformable_2d_per_frame", "deformable_3d", "direct", "fastdvdnet"}
SINGLE = {"blindspot"}  # a single-image, non-blind network only (HQ-SSL)
CASES = [(arch, frames, blind) for arch in sorted(models.MODELS)
         for frames in ((5,) if arch in VIDEO else (1, 5) if arch in ("kpn", "unet") else (1,))
         for blind in ((False,) if arch in SINGLE else (False, True))]
ABLATIONS = [("deformable_3d", {"dynamic_offsets": False}), ("deformable_3d", {"dynamic_weights": False}),
             ("deformable_3d", {"kernel": (5, 5, 5)}), ("unet", {"base": "neighbours"})]


def build(arch, frames, blind, **kw):
    torch.manual_seed(0)
    takes = models.MODELS.get(arch).train_settings
    sizes = {k: v for k, v in {"width": 4, "weight_width": 8}.items() if k in takes}
    sizes |= {"width": 4, "per_frame": 2} if arch == "fastdvdnet" else {}
    return models.build(arch, frames=frames, **sizes, **({} if arch in SINGLE else {"blind": blind}), **kw)


def call(model, frames):
    nmap = None if model.blind else noise_map(frames[:, model.frames // 2:model.frames // 2 + 1], 2.5e-3, 1e-2)
    return model(frames, nmap)


@pytest.mark.parametrize("arch,frames,blind", CASES)
def test_odd_sizes_shape_and_finite_gradients(arch, frames, blind):
    model = build(arch, frames, blind)
    x = torch.rand(2, frames, 23, 37)
    out = call(model, x)
    assert out.shape == (2, 1, 23, 37)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.parameter_count() == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch,frames,blind,kw", [(a, f, b, {}) for a, f, b in CASES]
                         + [(a, 5, False, kw) for a, kw in ABLATIONS])
def test_a_few_dozen_steps_lower_the_loss(arch, frames, blind, kw):
    model = build(arch, frames, blind, **kw)
    g = torch.Generator().manual_seed(0)
    # a smooth scene (denoisable), the same in every frame, under strong noise
    smooth = torch.nn.functional.interpolate(torch.rand(2, 1, 4, 4, generator=g), size=(16, 16), mode="bilinear")
    clean = (smooth * 0.8 + 0.1).expand(2, frames, 16, 16).contiguous()
    noisy = add_noise(clean, 1e-2, 3e-2, generator=g)
    target = clean[:, :1]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    # The blind-spot network starts at its neighbours' mean and moves off it only as its prior variance shrinks;
    # direct starts at its noisy input, a noise estimate of ~0 that a width-4 U-Net learns slowly.
    for step in range(100 if arch in SINGLE | {"direct"} else 50):
        for group in opt.param_groups:  # a warm-up, as the recipe's: Adam's first steps would throw a kernel head
            group["lr"] = 3e-3 * min(1.0, (step + 1) / 10)  # far from its box-filter start
        loss = reconstruction_loss(call(model, noisy), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.95 * losses[0]  # a fixed batch: any drop is learning, not luck


def test_non_blind_needs_the_noise_map_and_frames_must_match():
    model = build("kpn", 5, False)
    with pytest.raises(ValueError, match="noise map"):
        model(torch.rand(1, 5, 8, 8))
    with pytest.raises(ValueError, match=r"\[B, 5, H, W\]"):
        model(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8))


def test_dncnn_has_the_published_parameter_count():
    # DnCNN-S (17 layers, 64 channels, grey): 556,097 parameters with batch norm.
    assert models.build("dncnn", width=64, blind=True).parameter_count() == 556_097


@pytest.mark.parametrize("arch", ["dncnn", "nlrn"])
def test_a_residual_network_subtracts_its_noise_estimate_in_its_domain(arch):
    from core.colour import linear_to_srgb, srgb_to_linear

    g = torch.Generator().manual_seed(0)
    frames, noise_map = torch.rand(2, 1, 12, 12, generator=g), torch.full((2, 1, 12, 12), 0.02)
    seen = {}

    def estimate(x):  # a known noise estimate; records what the network would see
        seen["x"] = x
        return 0.1 * x[:, :1] - 0.03

    for domain, into, out_of in (("srgb", linear_to_srgb, srgb_to_linear), ("linear", lambda t: t, lambda t: t)):
        model = models.build(arch, blind=False, width=4, domain=domain, **({"states": 1, "neighbourhood": 3}
                                                                            if arch == "nlrn" else {}))
        out = model.subtract_noise(frames, model.network_input(frames, noise_map), estimate, model.domain)
        assert torch.allclose(seen["x"][:, :1], into(frames)) and torch.equal(seen["x"][:, 1:], noise_map)
        assert torch.allclose(out, out_of(into(frames) - (0.1 * into(frames) - 0.03)), atol=1e-6)
    with pytest.raises(ValueError, match="valid values are srgb, linear"):
        models.build(arch, domain="log")


def test_unknown_model_lists_the_registered_ones():
    with pytest.raises(KeyError, match="deformable_3d"):
        models.build("unet_plus_plus")


def convs(block):
    return [m for m in block if isinstance(m, torch.nn.Conv2d)]


def test_paper_width_offset_network_matches_table_1():
    unet = models.unet.UNet(6, 81, width=64)
    widths = [block[0].out_channels for block in unet.down]
    assert widths == [64, 128, 256, 512, 512]
    assert all(len(convs(block)) == 3 for block in unet.down)
    # Decoder 512-256-128 in three convs each; the last full-resolution block: two convs at 128 (Table 1)
    assert [[c.out_channels for c in convs(block)] for block in unet.up] == [[512] * 3, [256] * 3, [128] * 3,
                                                                              [128] * 2]
    assert unet.features == 128 and unet.head.in_channels == 128
    head, features = unet(torch.rand(1, 6, 20, 18))
    assert head.shape == (1, 81, 20, 18) and features.shape == (1, 128, 20, 18)


def test_the_narrow_top_block_keeps_three_convs_at_width_and_a_bad_top_is_refused():
    unet = models.unet.UNet(6, 81, width=8, top="narrow")
    assert [c.out_channels for c in convs(unet.up[-1])] == [8] * 3 and unet.features == 8
    assert unet(torch.rand(1, 6, 16, 16))[1].shape == (1, 8, 16, 16)
    # the weight network reads the U-Net's last features, whatever their width
    d3d = models.build("deformable_3d", width=8, weight_width=8)
    assert d3d.weight_net[0].in_channels == 27 + 6 + 16
    with pytest.raises(ValueError, match="valid values are table1, narrow"):
        models.unet.UNet(6, 81, width=8, top="wide")


def test_direct_starts_as_its_noisy_reference_frame():
    """Table 4's direct model predicts the frame as the reference less a noise estimate that starts near zero."""
    model = build("direct", 5, False)
    frames = torch.rand(2, 5, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    out = call(model, frames)
    assert (out - frames[:, 2:3]).abs().max() < 0.01
    assert (out - frames[:, 2:3]).abs().max() > 0  # a start, not a fixed identity
    with pytest.raises(ValueError, match="valid values are srgb, linear"):
        models.build("direct", domain="log")


def test_a_mistyped_model_argument_is_an_error_that_names_it():
    from core.config import InputError

    from models.checkpoint import build_model

    train = replace(load_spec(ROOT / "params.yaml").train, width=4, weight_width=8)
    entry = lambda arch, **args: ModelEntry(arch=arch, args=args, label="m", tables=[2])  # noqa: E731
    with pytest.raises(InputError, match="unexpected keyword argument 'kernel_sise'"):
        build_model(model_spec("m", entry("kpn", frames=1, kernel_sise=5), train))
    spec = model_spec("m", entry("deformable_3d", frames=5, dynamic_offsets=False), train)
    assert spec["args"] == {"width": 4, "weight_width": 8, "max_offset": 16.0, "unet_top": "table1", "frames": 5,
                            "dynamic_offsets": False}
    build_model(spec)  # arguments of the parent class, reached through **kw, are taken
    spec = model_spec("m", entry("dncnn", width=32), train)
    assert spec["args"] == {"width": 32}  # DnCNN takes no weight_width: none is passed


def test_every_model_builds_and_trains_a_step_at_the_paper_sizes():
    """The paper profile runs on a GPU; this catches a crash at its sizes (width 64) on the CPU first."""
    import yaml

    from core.imports import ROOT
    from core.registry import DEGRADATIONS
    from models.checkpoint import build_model
    from objectives import objective_for
    from tools.profile import merge

    spec = Spec.model_validate(merge(yaml.safe_load((ROOT / "params.yaml").read_text()),
                                     yaml.safe_load((ROOT / "profiles/paper.yaml").read_text())))
    d = DEGRADATIONS.build("raw_noise")
    for name, entry in spec.models.items():
        torch.manual_seed(0)
        model = build_model(model_spec(name, entry, spec.train))
        objective = objective_for(entry, spec.train, d)
        g = torch.Generator().manual_seed(0)
        clean = torch.rand(1, model.frames, 24, 24, generator=g)
        batch = {"clean": clean, **d.training_pair(clean, g), "generator": g}
        objective.check(model)
        loss = objective.loss(model, batch | objective.draw(batch), 0, spec.train.steps)
        loss.backward()
        assert torch.isfinite(loss), name


def test_auto_precision_keeps_fp32_for_a_model_that_bf16_does_not_pay():
    """train.precision auto: bf16 where the CPU has it natively, but SVRNN (slower in bf16) stays fp32; an
    explicit bf16 is obeyed."""
    from models.compute import resolve

    spec = load_spec(ROOT / "params.yaml")
    auto = replace(spec.train, precision="auto")
    assert model_spec("svrnn", spec.models["svrnn"], auto)["precision"] == "fp32"
    assert model_spec("d2d", spec.models["d2d"], auto)["precision"] == resolve("auto", "cpu")
    forced = replace(spec.train, precision="bf16")
    assert model_spec("svrnn", spec.models["svrnn"], forced)["precision"] == "bf16"


_FREED_AND_TAKEN_AGAIN = """
import resource, sys
import numpy as np
if sys.argv[1] == "reuse":
    from models.compute import reuse_freed_memory
    assert reuse_freed_memory()
faults = []
for _ in range(4):  # eight 8 MB blocks taken and freed together, as a step's tensors are
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    held = [np.ones(1 << 20) for _ in range(8)]
    del held
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[1:]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_memory_a_step_frees_is_reused_without_page_faults():
    """models.compute.reuse_freed_memory (every CPU run's configure): blocks freed and taken again come back
    without a page fault, where glibc's defaults hand them to the system and fault them in again."""
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _FREED_AND_TAKEN_AGAIN, mode], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        return int(out.split()[-1])

    default, reused = faults("default"), faults("reuse")
    assert default > 1000 and reused < default / 10, (default, reused)


def test_fastdvdnet_denoises_three_triplets_then_their_middles_and_uses_its_noise_map():
    """FastDVDnet's two stages: the first block (shared weights) runs on frames (1, 2, 3), (2, 3, 4), (3, 4, 5),
    the second on the three results; every frame reaches the output; the non-blind model reads its noise map,
    the blind one has no input for it; and five frames are required."""
    from core.colour import linear_to_srgb

    model = build("fastdvdnet", 5, False).eval()
    seen = []
    model.stage1.register_forward_hook(lambda module, args, out: seen.append(args[0].clone()))
    x = torch.rand(1, 5, 16, 20, requires_grad=True)
    nmap = torch.full((1, 1, 16, 20), 0.02)
    model(x, nmap).sum().backward()
    srgb = linear_to_srgb(x.detach())  # its residuals are taken in sRGB, as DnCNN's
    assert len(seen) == 3 and all(torch.equal(seen[k], srgb[:, k:k + 3]) for k in range(3))
    assert all(x.grad[0, t].abs().sum() > 0 for t in range(5))
    with torch.no_grad():
        assert not torch.allclose(model(x, nmap), model(x, 4 * nmap))
        blind = build("fastdvdnet", 5, True).eval()
        assert torch.equal(blind(x, nmap), blind(x, 4 * nmap))
    assert blind.stage1.input[0].in_channels == 3 and model.stage1.input[0].in_channels == 6
    with pytest.raises(ValueError, match="five frames"):
        models.build("fastdvdnet", frames=3)


@pytest.mark.parametrize("frames,k,size", [(1, 5, (9, 13)), (5, 5, (16, 16)), (5, 7, (11, 8)), (3, 3, (1, 4))])
def test_kpn_taps_from_shifted_slices_are_unfold_bit_for_bit(frames, k, size):
    import torch.nn.functional as F

    from models.kpn import taps

    torch.manual_seed(0)
    padded = torch.rand(2, frames, size[0] + k - 1, size[1] + k - 1)
    expected = F.unfold(padded, k).reshape(2, frames * k * k, *size)
    got = taps(padded, k)
    assert got.is_contiguous() and torch.equal(got, expected)
    weights = torch.rand(2, frames * k * k, *size, dtype=torch.bfloat16)
    assert torch.equal((weights * got).sum(1), (weights * expected).sum(1))
