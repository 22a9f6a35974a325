"""Decode (eq. 1–3) against an independent NumPy re-derivation, plus its invariants."""
import numpy as np
import pytest
import torch

from lfsdk.model import LatentFusion, ModelConfig, decode_latent_heatmaps, pixel_grid


def numpy_decode(heatmaps: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Eq. 2–3 written out loop by loop, in float64."""
    b, two_m, h, w = heatmaps.shape
    m = two_m // 2
    out = np.zeros((b, m, 3))
    for n in range(b):
        for j in range(m):
            z = omega[j] * heatmaps[n, j].astype(np.float64)
            e = np.exp(z - z.max())
            p = e / e.sum()
            for r in range(h):
                for c in range(w):
                    out[n, j, 0] += p[r, c] * ((2 * c + 1) / w - 1)
                    out[n, j, 1] += p[r, c] * ((2 * r + 1) / h - 1)
                    out[n, j, 2] += p[r, c] * heatmaps[n, m + j, r, c]
    return out


def test_matches_numpy_reference():
    rng = np.random.default_rng(0)
    hm = rng.normal(0, 2, (2, 6, 8, 5)).astype(np.float32)
    omega = np.array([0.5, 1.0, 3.0], np.float32)
    got, prob = decode_latent_heatmaps(torch.from_numpy(hm), torch.from_numpy(omega))
    np.testing.assert_allclose(got.numpy(), numpy_decode(hm, omega), atol=1e-6)
    np.testing.assert_allclose(prob.sum(dim=(2, 3)).numpy(), 1.0, atol=1e-6)


def test_one_hot_decodes_to_that_pixel():
    hm = torch.full((1, 2, 32, 32), -1e4)
    hm[0, 0, 5, 20] = 0.0  # row 5, column 20
    hm[0, 1] = 0.25  # constant 1D heatmap → depth 0.25 wherever the 2D mass is
    coords, _ = decode_latent_heatmaps(hm, torch.ones(1))
    assert coords[0, 0].tolist() == pytest.approx([(2 * 20 + 1) / 32 - 1, (2 * 5 + 1) / 32 - 1, 0.25], abs=1e-6)


def test_constant_heatmap_decodes_to_centre():
    coords, prob = decode_latent_heatmaps(torch.full((3, 8, 32, 32), 7.0), torch.ones(4))
    assert coords[..., :2].abs().max() < 1e-6
    assert torch.allclose(prob, torch.full_like(prob, 1 / 1024))


def test_larger_omega_sharpens():
    torch.manual_seed(0)
    hm = torch.randn(1, 2, 32, 32)
    entropy = []
    for w in (0.5, 1.0, 4.0):
        _, p = decode_latent_heatmaps(hm, torch.tensor([w]))
        entropy.append(-(p * p.log()).sum().item())
    assert entropy[0] > entropy[1] > entropy[2]


def test_pixel_grid_is_symmetric_pixel_centres():
    g = pixel_grid(4)
    assert g.tolist() == pytest.approx([-0.75, -0.25, 0.25, 0.75])


@pytest.mark.parametrize("bad", [(1, 3, 8, 8), (1, 4, 8)])
def test_bad_shapes_are_refused(bad):
    with pytest.raises(ValueError, match="heatmaps must be"):
        decode_latent_heatmaps(torch.zeros(bad), torch.ones(1))
    with pytest.raises(ValueError, match="omega must be"):
        decode_latent_heatmaps(torch.zeros(1, 4, 8, 8), torch.ones(3))


def test_fusion_weights_are_a_distribution_and_gradients_reach_everything():
    torch.manual_seed(0)
    model = LatentFusion(ModelConfig(num_joints=5))
    for p in model.parameters():  # break the paper's near-zero init so every path carries signal
        torch.nn.init.normal_(p, 0, 0.05) if p.dim() > 1 else None
    out = model(torch.randn(2, 1, 128, 128))
    assert (out.fusion_weights >= 0).all()
    assert torch.allclose(out.fusion_weights.sum(1), torch.ones(2), atol=1e-6)
    fused = (out.fusion_weights[:, :, None, None] * out.branch_joints).sum(1)
    assert torch.allclose(fused, out.joints, atol=1e-6)
    (out.joints.square().sum() + out.branch_joints.sum()).backward()
    assert model.omega.grad is not None and model.omega.grad.abs().sum() > 0
    for i, branch in enumerate(model.branches):
        g = branch[-1].weight.grad
        assert g is not None and g.abs().sum() > 0, f"no gradient reached branch {i}"
    assert model.fusion.head[-1].weight.grad.abs().sum() > 0
