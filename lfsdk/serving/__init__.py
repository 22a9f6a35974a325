"""Serving lfsdk over Triton Inference Server's HTTP/gRPC protocol.

One wire protocol for every deployment, so client code never changes:
- one machine: `lfsdk serve` (lfsdk.serving.server, PyTriton embeds Triton's server around the estimator);
- many machines: `lfsdk-export --triton-repo DIR` (lfsdk.export.triton) on Triton Inference Server replicas.
Both serve the model MODEL_NAME (one hand per frame, as est(depth)) and HANDS_MODEL_NAME (every hand, as
est.find_hands) with the inputs and outputs of lfsdk.serving.protocol; `Client` (lfsdk.serving.client)
speaks to either. pytriton and tritonclient (`pip install lfsdk[serve]`) are imported only when a server
starts or a Client connects.
"""
from .client import Client, ServerError, ServerUnavailable
from .protocol import (BATCH_REJECTED, HANDS_MODEL_NAME, MAX_HANDS, MODEL_NAME, REQUEST_ID, SCORE_THRESHOLD,
                       TensorSpec, check_camera, hands_options, hands_outputs, request_inputs, response_outputs)

__all__ = ["BATCH_REJECTED", "HANDS_MODEL_NAME", "MAX_HANDS", "MODEL_NAME", "REQUEST_ID", "SCORE_THRESHOLD",
           "TensorSpec", "check_camera", "hands_options", "hands_outputs", "request_inputs", "response_outputs",
           "Client", "ServerError", "ServerUnavailable"]
