import pytest

from lfsdk.stages import STAGES, stage_of


@pytest.mark.parametrize("name,stage", [
    ("/features/features.0/features.0.0/Conv", "features"),
    ("features.5.inner.up.body.0.0", "features"),
    ("/branches.2/branches.2.3/Conv", "heatmaps"),
    ("/decode/Softmax", "decode+fusion"),
    ("/fusion/head/head.4/Conv", "decode+fusion"),
    ("/branches.0/Conv + /decode/Softmax", "heatmaps"),  # fused layer: first path wins
    ("/postprocess/Mul", "postprocess"),
    ("Reformatting CopyNode for Input Tensor 0", None),
    ("featuresX/Conv", None),
])
def test_stage_of(name, stage):
    assert stage_of(name) == stage
    assert stage is None or stage in STAGES
