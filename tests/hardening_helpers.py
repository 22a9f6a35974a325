"""Odd files for the hardening and fuzz tests: PNG headers that claim huge images, ONNX files with a renamed
input, checkpoints with one config key changed — each made in a few milliseconds."""
from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import onnx


def png_header(path: Path, width: int, height: int, bit_depth: int = 16) -> Path:
    """A grayscale PNG whose header says width × height, with one empty compressed block: readers that check
    the size before decoding refuse it without allocating anything."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


def renamed_input(src: Path, dst: Path, name: str = "depth_crops") -> Path:
    """A copy of an lfsdk ONNX file whose graph input is called `name` (the metadata is kept)."""
    model = onnx.load(str(src))
    old = model.graph.input[0].name
    model.graph.input[0].name = name
    for node in model.graph.node:
        for i, x in enumerate(node.input):
            if x == old:
                node.input[i] = name
    onnx.save(model, str(dst))
    return dst


def checkpoint_with(src: Path, dst: Path, **changes) -> Path:
    """A copy of checkpoint `src` with config.json keys changed; 'extra.K' changes extra's key K."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "model.safetensors", dst / "model.safetensors")
    cfg = json.loads((src / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("extra."):
            cfg.setdefault("extra", {})[key[len("extra."):]] = value
        else:
            cfg[key] = value
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst
