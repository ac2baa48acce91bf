"""The four-direction recurrence of SVRNN (ops/recurrent_scan.py): the numba kernel against the PyTorch loop over
the scan length, a hand-computed sweep, and its gradient."""
import pytest
import torch

from ops.recurrent_scan import DIRECTIONS, scan, scan_parallel, scan_torch


def test_a_sweep_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    p = torch.full_like(x, 0.5)
    # h0 = 0.5 * 1 = 0.5; h1 = 0.5 * 2 + 0.5 * 0.5 = 1.25; h2 = 0.5 * 3 + 0.5 * 1.25 = 2.125
    assert scan(x, p, "left").flatten().tolist() == [0.5, 1.25, 2.125]
    # right to left: h2 = 1.5; h1 = 1 + 0.75 = 1.75; h0 = 0.5 + 0.875 = 1.375
    assert scan(x, p, "right").flatten().tolist() == [1.375, 1.75, 1.5]
    # along the height, a column is swept as the row was
    assert scan(x.transpose(-1, -2), p.transpose(-1, -2), "down").flatten().tolist() == [0.5, 1.25, 2.125]
    assert scan(x.transpose(-1, -2), p.transpose(-1, -2), "up").flatten().tolist() == [1.375, 1.75, 1.5]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_numba_kernel_equals_the_pytorch_loop_values_and_gradients(direction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    p = (torch.rand(2, 3, 5, 7, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()  # negative gates too
    w = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64)
    fused, loop = scan(x, p, direction), scan_torch(x, p, direction)
    assert torch.allclose(fused, loop, rtol=0, atol=1e-12)
    grads = [torch.autograd.grad((out * w).sum(), (x, p)) for out in (fused, loop)]
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_numba_kernel_passes_gradcheck(direction):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    p = (torch.rand(1, 2, 4, 3, generator=g, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: scan(a, b, direction), (x, p))


def test_float32_and_bad_shapes():
    x = torch.rand(1, 4, 8, 9)
    assert torch.allclose(scan(x, x * 0.5, "up"), scan_torch(x, x * 0.5, "up"), atol=1e-6)
    with pytest.raises(ValueError, match="direction"):
        scan(x, x, "diagonal")
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        scan(x, x[:, :1], "left")


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("size", [(5, 7), (1, 1), (8, 16), (3, 33)])
def test_the_parallel_scan_equals_the_pytorch_loop_values_and_gradients(direction, size):
    """The CUDA path (run here on the CPU): equal to the loop in float64 at any scan length, a power of two or
    not, with negative gates; and gradcheck."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, *size, generator=g, dtype=torch.float64, requires_grad=True)
    p = (torch.rand(2, 3, *size, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
    w = torch.randn(2, 3, *size, generator=g, dtype=torch.float64)
    fast, loop = scan_parallel(x, p, direction), scan_torch(x, p, direction)
    assert torch.allclose(fast, loop, rtol=0, atol=1e-12)
    for a, b in zip(*[torch.autograd.grad((out * w).sum(), (x, p)) for out in (fast, loop)]):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    small = (x[:1, :1, :4, :3].detach().requires_grad_(), p[:1, :1, :4, :3].detach().requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b: scan_parallel(a, b, direction), small)


def test_a_tensor_off_the_cpu_takes_the_parallel_scan(monkeypatch):
    import ops.recurrent_scan as ops_scan

    taken = []
    monkeypatch.setattr(ops_scan, "scan_parallel", lambda x, p, d: taken.append(x.device.type) or x)
    scan(torch.zeros(1, 1, 2, 3, device="meta"), torch.zeros(1, 1, 2, 3, device="meta"), "left")
    scan(torch.zeros(1, 1, 2, 3), torch.zeros(1, 1, 2, 3), "left")
    assert taken == ["meta"]
