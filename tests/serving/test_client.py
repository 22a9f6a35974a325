"""lfsdk.serving.Client without a model server: unreachable and silent servers (retries, timeouts, the error
it ends with), and which server errors it retries. Needs tritonclient (the [serve] extra)."""
from __future__ import annotations

import socket
import time

import numpy as np
import pytest

pytest.importorskip("tritonclient.http", reason="needs the [serve] extra (tritonclient)")
from tritonclient.utils import InferenceServerException  # noqa: E402

from lfsdk.serving import BATCH_REJECTED, Client, ServerError, ServerUnavailable  # noqa: E402
from tests.serving.helpers import free_ports  # noqa: E402


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_nobody_listening_is_server_unavailable_after_the_retries(protocol):
    (port,) = free_ports(1)
    c = Client(f"127.0.0.1:{port}", protocol=protocol, retries=2, retry_delay_s=0.05, timeout_s=2)
    with pytest.raises(ServerUnavailable, match=rf"127\.0\.0\.1:{port} \({protocol}\) unreachable .* after 3 tries"):
        c(np.zeros((1, 8, 8), np.uint16), "icvl")
    assert not c.is_ready()


def test_a_silent_server_times_out():
    """A socket that accepts and never answers: each try ends at timeout_s, then ServerUnavailable."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        c = Client(f"127.0.0.1:{s.getsockname()[1]}", retries=1, retry_delay_s=0.0, timeout_s=0.5)
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable, match="after 2 tries"):
            c.infer_arrays(np.zeros((1, 8, 8), np.uint16), np.ones((1, 4), np.float32))
        assert time.monotonic() - t0 < 30  # bounded by the timeouts, not hanging


def test_retries_only_requests_failed_by_someone_elses_malformed_request():
    c = Client("127.0.0.1:1", retries=2, retry_delay_s=0.0)
    calls = []

    def flaky(_client, culprit: str):
        calls.append(1)
        if len(calls) == 1:
            raise InferenceServerException(f"Model execute error: {BATCH_REJECTED}: malformed request(s) {culprit}: "
                                           "camera holds NaN (the other requests of this batch were not run)")
        return "answer"

    c._connect = lambda: None  # no connection is needed for the function under test
    assert c._call("infer", lambda cl: flaky(cl, "other-id"), request_id="my-id") == "answer"
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ServerError, match="camera holds NaN"):  # our own request was the malformed one
        c._call("infer", lambda cl: flaky(cl, "my-id"), request_id="my-id")
    assert len(calls) == 1


def test_client_arguments_are_checked():
    with pytest.raises(ValueError, match="protocol"):
        Client(protocol="udp")
    with pytest.raises(ValueError, match="timeout_s"):
        Client(timeout_s=0)
    c = Client("127.0.0.1:1", retries=0)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\)"):
        c(np.zeros((1, 1, 8, 8), np.uint16), "icvl")
    with pytest.raises(ValueError, match="shape"):
        c(np.zeros((8, 8), np.uint16), [1.0, 2.0, 3.0])
