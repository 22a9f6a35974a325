"""Compile every lfsdk Triton kernel ahead of time for an H100 (sm_90) and print one JSON line per variant.

Run by test_compile_sm90.py in a fresh process without TRITON_INTERPRET (under the interpreter @triton.jit
returns wrappers the compiler cannot use). Needs no GPU: TTIR → TTGIR → LLVM → PTX → cubin (bundled ptxas).
"""
import json
import os
import sys

assert os.environ.get("TRITON_INTERPRET", "0") in ("", "0"), "run without TRITON_INTERPRET"

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from lfsdk.kernels import backproject_triton as bt  # noqa: E402
from lfsdk.kernels import center_triton as ct  # noqa: E402
from lfsdk.kernels import crop_triton as kt  # noqa: E402

TARGET = GPUTarget("cuda", 90, 32)


def build(kernel, signature: dict, constexprs: dict, **options) -> None:
    sig = {**signature, **{k: "constexpr" for k in constexprs}}
    k = triton.compile(ASTSource(kernel, sig, constexprs), target=TARGET, options=options or None)
    ptx = k.asm["ptx"]
    print(json.dumps({"kernel": kernel.__name__, "depth": signature.get("depth_ptr"), "constexprs": constexprs,
                      "options": options, "sm_90": ".target sm_90" in ptx, "cubin_bytes": len(k.asm["cubin"]),
                      "fma": "fma.rn.f32" in ptx}), flush=True)


def main() -> int:
    for depth in ("*u16", "*fp32"):
        build(ct._min_kernel, {"depth_ptr": depth, "mins_ptr": "*fp32", "n_pix": "i32", "n_chunks": "i32",
                               "chunk": "i32", "near": "fp32", "far": "fp32"}, {"BLOCK": ct.BLOCK})
        sums = {"depth_ptr": depth, "mins_ptr": "*fp32", "uvd_ptr": "*fp32", "found_ptr": "*i8", "cam_ptr": "*fp32",
                "cube_ptr": "*fp32", "part_ptr": "*fp32", "H": "i32", "W": "i32", "n_chunks": "i32", "chunk": "i32",
                "near": "fp32", "far": "fp32", "band": "fp32"}
        for box in (False, True):
            build(ct._sums_kernel, sums, {"BOX": box, "NC": 64, "BLOCK": ct.BLOCK})
        for bilinear in (False, True):
            build(kt._crop_kernel, {"depth_ptr": depth, "center_ptr": "*fp32", "cube_ptr": "*fp32",
                                    "cam_ptr": "*fp32", "out_ptr": "*fp32", "H": "i32", "W": "i32", "S": "i32",
                                    "grid_off": "fp32"}, {"BILINEAR": bilinear, "BLOCK": kt.BLOCK},
                  enable_fp_fusion=False)
    for first in (False, True):
        build(ct._finish_kernel, {"part_ptr": "*fp32", "uvd_ptr": "*fp32", "found_ptr": "*i8", "n_chunks": "i32"},
              {"FIRST": first, "NC": ct.MAX_CHUNKS})
    build(bt._backproject_kernel, {"norm_ptr": "*fp32", "center_ptr": "*fp32", "cube_ptr": "*fp32",
                                   "cam_ptr": "*fp32", "uvd_ptr": "*fp32", "xyz_ptr": "*fp32", "N": "i32", "M": "i32"},
          {"BLOCK": bt.BLOCK}, enable_fp_fusion=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
