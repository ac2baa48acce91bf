"""tools/ceiling.py: the FLOPs it counts and the convolutions it finds in a training step."""
import pytest
import torch
import torch.nn as nn

from tools.ceiling import ConvCall, conv_calls, main


class MeanLoss:
    """An objective: the mean of the network's output."""

    def loss(self, net, batch, step, steps):
        return net(batch["input"]).mean()


def test_flops_count_multiply_adds_forward_and_each_gradient():
    conv = nn.Conv2d(4, 8, 3, padding=1)
    call = ConvCall(conv, (2, 4, 10, 10), torch.float32, False, True, False)
    forward = 2 * (2 * 8 * 10 * 10) * (4 * 9)  # outputs x multiply-adds per output
    assert call.flops() == 3 * forward
    same = ConvCall(conv, (2, 4, 10, 10), torch.float32, False, True, False)
    assert len({call: 0, same: 0}) == 1  # a call the step makes twice is timed once
    assert ConvCall(conv, (2, 4, 10, 10), torch.float32, False, False, False).flops() == 2 * forward
    strided = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert ConvCall(strided, (1, 4, 9, 9), torch.float32, False, False, False).flops() == \
        2 * 2 * (6 * 5 * 5) * (2 * 9)


def test_conv_calls_records_every_convolution_of_a_step_in_order():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))
    opt = torch.optim.Adam(net.parameters())
    batch = {"input": torch.rand(3, 2, 12, 12).contiguous(memory_format=torch.channels_last),
             "clean": torch.rand(3, 1, 12, 12)}
    before = [p.detach().clone() for p in net.parameters()]
    calls = conv_calls(net, opt, MeanLoss(), batch, steps=10)
    assert [c.module for c in calls] == [net[0], net[2]]
    assert [c.shape for c in calls] == [(3, 2, 12, 12), (3, 8, 12, 12)]
    assert [c.input_grad for c in calls] == [False, True]  # the batch needs no gradient, the features do
    assert [c.channels_last for c in calls] == [True, True]
    assert not any(c.autocast for c in calls)
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))  # a real step was taken
    assert not any(m._forward_pre_hooks for m in net)  # no hook left behind


def test_a_convolution_timed_alone_leaves_the_model_as_it_was():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    weights = conv.weight.detach().clone()
    call = ConvCall(conv, (2, 3, 8, 8), torch.float32, False, True, False)
    assert call.seconds(runs=2) > 0
    assert torch.equal(conv.weight, weights) and conv.weight.grad is None


def test_an_unknown_model_is_refused_before_any_process_starts():
    with pytest.raises(SystemExit, match="no model d2d_typo in params.yaml's models; name one of dncnn, "):
        main(("d2d", "d2d_typo"))
