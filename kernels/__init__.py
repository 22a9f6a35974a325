"""lfsdk.kernels: batched pre/post-processing, Triton on CUDA tensors, a torch reference elsewhere."""
