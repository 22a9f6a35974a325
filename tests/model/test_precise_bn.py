"""lfsdk.model.precise_bn against a NumPy re-derivation of the averaged batch statistics."""
import numpy as np
import pytest
import torch
from torch import nn

from lfsdk.model.precise_bn import batch_norms, recompute_bn_stats


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 1),
                         nn.BatchNorm2d(2))


def test_statistics_are_the_plain_average_of_the_batch_statistics():
    net = _net().eval()
    for m in batch_norms(net):  # stale statistics, as a fast-moving training leaves them
        m.running_mean.fill_(5.0), m.running_var.fill_(9.0)
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randn(4, 1, 6, 6, generator=gen) * (1 + i) + i for i in range(3)]  # unequal statistics
    assert recompute_bn_stats(net, batches) == 3
    # NumPy: the first BN sees conv1's output; per channel, each batch's mean and unbiased variance, averaged
    w, b = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    means, variances = [], []
    for x in batches:
        feats = torch.nn.functional.conv2d(x, torch.from_numpy(w), torch.from_numpy(b), padding=1).numpy()
        per_channel = feats.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
        means.append(per_channel.mean(1)), variances.append(per_channel.var(1, ddof=1))
    np.testing.assert_allclose(net[1].running_mean.numpy(), np.mean(means, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net[1].running_var.numpy(), np.mean(variances, 0), rtol=1e-5)
    assert not net.training and all(m.momentum == 0.1 for m in batch_norms(net))  # mode and momentum restored
    for k, v in weights.items():
        torch.testing.assert_close(net.state_dict()[k], v, rtol=0, atol=0)  # the weights never move


def test_no_batches_leaves_the_statistics_alone():
    net = _net().train()
    net[1].running_mean.fill_(2.0)
    assert recompute_bn_stats(net, iter(())) == 0
    assert (net[1].running_mean == 2.0).all() and net.training and net[1].momentum == 0.1


def test_an_error_mid_way_still_restores_momentum_and_mode():
    net = _net().eval()

    def batches():
        yield torch.randn(2, 1, 6, 6)
        raise RuntimeError("the data ran dry")

    with pytest.raises(RuntimeError, match="ran dry"):
        recompute_bn_stats(net, batches())
    assert not net.training and all(m.momentum == 0.1 for m in batch_norms(net))
