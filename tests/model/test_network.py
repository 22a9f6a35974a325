"""Network structure against the paper: parameter counts (IV-B.2), shapes, determinism, init, loss."""
import pytest
import torch

from lfsdk.model import BRANCHES, LatentFusion, ModelConfig, latent_fusion_loss
from lfsdk.model.summary import PAPER_PARAMS, model_summary


def stats(m):
    return {r.name: r for r in model_summary(LatentFusion(ModelConfig(num_joints=m)))}


def test_feature_extractor_within_1_percent_of_paper():
    for m in (14, 16, 21):
        assert stats(m)["features"].params == pytest.approx(PAPER_PARAMS["features"], rel=0.01)


def test_total_within_5_percent_for_every_dataset_joint_count():
    for m in (14, 16, 21):
        assert stats(m)["total"].params == pytest.approx(PAPER_PARAMS["total"], rel=0.05)


def test_branch_and_fusion_counts_hand_computed():
    # Residual(128): 3 convs (8256 + 36928 + 8320) + 3 BN (128 + 128 + 256) = 54016; Hourglass-2 = 7 residuals.
    res128, hg2 = 54016, 7 * 54016
    m = 14
    branch = hg2 + res128 + (128 * 128 + 128 + 256) + (128 * 2 * m + 2 * m)
    s = stats(m)
    assert s["branches"].params == 3 * branch + m  # + ω
    fusion = (128 * 256 + 256) + 3 * (2 * m * 256 + 256) + (256 * 32 + 32) + 64 + (32 * 3 + 3)
    assert s["fusion"].params == fusion


def test_macs_per_frame_close_to_paper_scale():
    # DESIGN.md: about 0.79 GMAC per frame; ours counts every conv + decode.
    assert 0.7e9 < stats(14)["total"].macs < 0.95e9


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("joints", [14, 21])
def test_forward_shapes(batch, joints):
    model = LatentFusion(ModelConfig(num_joints=joints)).eval()
    out = model(torch.randn(batch, 1, 128, 128))
    assert out.joints.shape == (batch, joints, 3)
    assert out.branch_joints.shape == (batch, len(BRANCHES), joints, 3)
    assert out.fusion_weights.shape == (batch, 3)


def test_eval_mode_is_deterministic():
    torch.manual_seed(1)
    model = LatentFusion().eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, 0, 0.05)
    x = torch.randn(3, 1, 128, 128)
    with torch.no_grad():
        a, b = model(x), model(x)
        single = model(x[1:2])
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert torch.allclose(single.joints, a.joints[1:2], atol=1e-5)


def test_paper_initialisation():
    model = LatentFusion()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    w = torch.cat([c.weight.flatten() for c in convs])
    assert abs(w.mean().item()) < 1e-4 and w.std().item() == pytest.approx(0.001, rel=0.02)
    assert all(c.bias.abs().max() == 0 for c in convs)
    assert torch.equal(model.omega, torch.ones(14))


def test_branches_are_mapped_back_to_xyz():
    """Feed each branch a heatmap peaked at a known cell and check which output axis receives what."""
    model = LatentFusion(ModelConfig(num_joints=1)).eval()
    hm = torch.full((1, 2, 32, 32), -1e4)
    hm[0, 0, 8, 24] = 0.0  # a = column 24 → (49/32 − 1), b = row 8 → (17/32 − 1)
    hm[0, 1] = 0.5  # c = 0.5
    a, b, c = 49 / 32 - 1, 17 / 32 - 1, 0.5
    for branch in model.branches:
        branch[-1].register_forward_hook(lambda *_: hm)
    out = model(torch.zeros(1, 1, 128, 128))
    want = {"XY|Z": (a, b, c), "XZ|Y": (a, c, b), "YZ|X": (c, a, b)}
    for i, name in enumerate(BRANCHES):
        assert out.branch_joints[0, i, 0].tolist() == pytest.approx(want[name], abs=1e-5), name


def test_loss_is_fused_plus_branches():
    torch.manual_seed(0)
    model = LatentFusion(ModelConfig(num_joints=3))
    out = model(torch.randn(2, 1, 128, 128))
    target = torch.rand(2, 3, 3) * 2 - 1
    terms = latent_fusion_loss(out, target, beta=0.5)
    ref = torch.nn.functional.smooth_l1_loss
    assert terms.fused.item() == pytest.approx(ref(out.joints, target, beta=0.5).item(), rel=1e-6)
    for i in range(3):
        assert terms.branches[i].item() == pytest.approx(ref(out.branch_joints[:, i], target, beta=0.5).item(), rel=1e-6)
    assert terms.total.item() == pytest.approx((terms.fused + terms.branches.sum()).item(), rel=1e-6)
    with pytest.raises(ValueError, match="target must be"):
        latent_fusion_loss(out, target[:, :2])
