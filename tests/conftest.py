"""`pytest --fp32-cpu`: run the suite as on a CPU without native BF16 (AVX2 only), on any machine — from_pretrained()
then picks the lite model and OpenVINO runs FP32, as they do there."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--fp32-cpu", action="store_true",
                     help="behave as on a CPU without AVX512_BF16/AMX: auto picks the lite model, OpenVINO runs FP32")


@pytest.fixture(autouse=True)
def _fp32_cpu(request, monkeypatch):
    if request.config.getoption("--fp32-cpu"):
        import lfsdk.backends.openvino
        import lfsdk.bench
        import lfsdk.pretrained
        import lfsdk.train_speed

        for module in (lfsdk.pretrained, lfsdk.bench, lfsdk.train_speed):
            monkeypatch.setattr(module, "cpu_has_native_bf16", lambda: False)
        monkeypatch.setattr(lfsdk.backends.openvino, "cpu_has_bf16", lambda: False)
    yield
