"""Seeded generators of odd inputs for tests/test_fuzz.py: depth frames, cameras, centres, boxes and Result
indexing for the estimator; config.json keys, weights and ONNX files for model loading; files and options
for `lfsdk estimate`. Every case is (name, thunk); `outcome` runs one and says whether it gave a clear error,
a valid result, or a defect (an unclear exception, a traceback, non-finite joints with found=True)."""
from __future__ import annotations

import io
import json
import math
import random
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import torch

from lfsdk import InputError, Result
from lfsdk.backends import BackendUnavailable

Case = tuple[str, Callable[[], Any]]
#: what a clear answer to bad input may raise. BackendUnavailable: a model file this backend cannot run
#: (the message names the file); IndexError: a frame index out of range.
CLEAR = (InputError, ValueError, TypeError, FileNotFoundError, BackendUnavailable, IndexError)
DTYPES = ["uint16", "int16", "int32", "int64", "float16", "float32", "float64", ">u2", ">f4", "<i4", "uint8",
          "bool", "int8", "uint32", "complex64", "object"]
ODD_NUMBERS = [0.0, -0.0, 1e-45, 1e-30, 1e-3, 1.0, 241.42, 1e6, 1e7, 1e8, 1e39, 1e300, -1.0, -241.0,
               float("nan"), float("inf"), -float("inf")]


def check_result(r: Any, frames: int | None = None) -> None:
    """A valid Result: consistent shapes; found frames all finite, the others NaN; JSON-clean to_dict."""
    assert isinstance(r, Result), type(r)
    b = len(r)
    assert frames is None or b == frames, (b, frames)
    shapes = (tuple(r.joints_xyz.shape), tuple(r.boxes.shape), tuple(r.found.shape))
    assert r.joints_xyz.ndim == 3 and shapes[0][::2] == (b, 3) and shapes[1:] == ((b, 4), (b,)), f"shapes {shapes}"
    found = r.found
    for field in ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "boxes", "centers_xyz"):
        v = getattr(r, field)
        assert bool(torch.isfinite(v[found]).all()), f"non-finite {field} with found=True"
        assert bool(torch.isnan(v[~found]).all()), f"{field} not NaN where found=False"
    json.dumps(r.to_dict(), allow_nan=False)


def outcome(thunk: Callable[[], Any]) -> tuple[str, str]:
    """('error' | 'valid' | 'defect', detail). The thunk returns None after checking its own result."""
    try:
        thunk()
    except CLEAR as e:
        msg = str(e)
        if len(msg) < 20 or "Traceback" in msg:
            return "defect", f"unclear {type(e).__name__}: {msg!r}"
        return "error", type(e).__name__
    except AssertionError as e:
        return "defect", f"invalid result: {e}"
    except Exception as e:  # noqa: BLE001 — any other exception is what the fuzzing looks for
        return "defect", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
    return "valid", ""


# -- the estimator ------------------------------------------------------------------------------------------

def _array(rng: random.Random, shape: tuple[int, ...], dtype: str, kind: str = "hand",
           odd_pixel: bool = False) -> np.ndarray:
    nprng = np.random.default_rng(rng.randrange(1 << 30))
    a = np.zeros(shape, np.float64)
    if kind == "hand" and len(shape) >= 2 and shape[-1] > 4 and shape[-2] > 4:
        h, w = shape[-2], shape[-1]
        v0, u0 = rng.randrange(h // 2), rng.randrange(w // 2)
        a[..., v0:v0 + max(2, h // 3), u0:u0 + max(2, w // 3)] = rng.uniform(150, 900)
    elif kind == "uniform":
        a[...] = nprng.uniform(0, 65535, shape)
    elif kind == "noise":
        a[...] = np.abs(nprng.normal(500, 300, shape))
    if a.size and odd_pixel:
        a.flat[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf, -1.0, -32768.0, 1e30, 65535.0, 1e-30])
    if dtype == "object":
        return a.astype(object)
    with np.errstate(all="ignore"):
        return a.astype(dtype)


def _odd_shape(rng: random.Random) -> tuple[int, ...]:
    if rng.random() < 0.4:
        return (rng.randrange(8, 56), rng.randrange(8, 56), rng.choice([1, 2, 3, 4]))
    return tuple(rng.randrange(0, 6) for _ in range(rng.choice([0, 1, 2, 3, 4, 5])))


def _container(rng: random.Random, a: np.ndarray) -> Any:
    form = rng.choice(["torch", "grad", "strided", "list", "other"])
    if form in ("torch", "grad") and a.dtype.kind in "iuf" and a.dtype.isnative and a.dtype != np.uint32:
        t = torch.from_numpy(a)
        return t.float().requires_grad_() if form == "grad" else t
    if form == "strided" and a.ndim >= 2:
        return np.swapaxes(a, -1, -2)  # not C-contiguous
    if form == "list" and a.size < 600:
        return a.tolist()
    return rng.choice([None, "depth.png", 3.5, {"depth": 1}, b"\x00", object()])


def _camera(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        return rng.choice(["nyu", "icvl", "msra", "ICVL ", "", "foo", "1,2,3", "a,b,c,d", "241,241,160,120",
                           "nan,1,1,1", "1e39,1e39,160,120", "1e-45,1e-45,160,120"])
    vals = [rng.choice(ODD_NUMBERS) if rng.random() < 0.3 else rng.uniform(1, 600) for _ in range(4)]
    form = rng.choice(["str", "list", "f32", "tensor", "short", "Camera"])
    if form == "str":
        return ",".join(repr(v) for v in vals)
    if form == "f32":
        with np.errstate(all="ignore"):
            return np.array(vals, np.float32)
    if form == "tensor":
        return torch.tensor(vals)
    if form == "Camera":
        from lfsdk import Camera
        return lambda: Camera(*vals)  # built inside the case: the constructor is under test too
    return vals[:3] if form == "short" else vals


def _points(rng: random.Random, b: int, k: int) -> Any:
    if rng.random() < 0.2:
        return rng.choice([[1.0] * (k - 1), "1,2,3", np.zeros((b + 1, k)), np.array([True] * k), [[]]])
    vals = np.array([[rng.choice(ODD_NUMBERS) if rng.random() < 0.15 else rng.uniform(0, 400) for _ in range(k)]
                     for _ in range(b)])
    return vals[0] if b == 1 and rng.random() < 0.5 else vals


#: what one API case changes from a plain call on good frames (one thing at most, so each part is reached)
API_ODDITIES = ["none", "none", "dtype", "shape", "values", "container", "camera", "centers", "boxes", "index",
                "draw"]


def _api_call(rng: random.Random) -> tuple[Any, dict[str, Any], Any, Any]:
    odd = rng.choice(API_ODDITIES)
    shape = (rng.randrange(8, 72), rng.randrange(8, 72))
    if rng.random() < 0.4:
        shape = (rng.randrange(1, 4), *shape)
    depth = _array(rng, shape, rng.choice(DTYPES) if odd == "dtype" else rng.choice(["uint16", "float32"]),
                   kind=rng.choice(["hand", "zeros", "uniform", "noise"]) if odd == "values" else "hand",
                   odd_pixel=odd == "values" and rng.random() < 0.6)
    if odd == "shape":
        depth = _array(rng, _odd_shape(rng), "uint16")
    elif odd == "container":
        depth = _container(rng, depth)
    b = shape[0] if len(shape) == 3 else 1
    kw: dict[str, Any] = {"camera": _camera(rng) if odd == "camera" else rng.choice([None, "icvl"])}
    if odd == "centers":
        kw["centers"] = _points(rng, b, 3)
        kw["center_space"] = rng.choice(["uvd", "xyz", "uvd", "UVD"])
    elif odd == "boxes":
        kw["boxes"] = _points(rng, b, 4)
    index = rng.choice([0, -1, np.int64(0), np.int32(-1), 5, 1.0, slice(0, 1), "0", torch.tensor(0)]) \
        if odd == "index" else 0
    draw_with = rng.choice(["same", (10, 10), (1, 8, 8), "float"]) if odd == "draw" else None
    return depth, kw, index, draw_with


def api_cases(est, n: int, seed: int) -> list[Case]:
    """n calls of `est`, each on good frames with at most one thing odd (dtype, shape, values, container,
    camera, centres, boxes, Result indexing or draw's frame), then Result indexing and draw."""
    rng = random.Random(seed)
    cases = []
    for k in range(n):
        depth, kw, index, draw_with = _api_call(rng)

        def case(depth=depth, kw=kw, index=index, draw_with=draw_with):
            if callable(kw["camera"]):
                kw = {**kw, "camera": kw["camera"]()}
            r = est(depth, **kw)
            check_result(r)
            check_result(r[index])
            frame = None
            if draw_with is not None:
                same = r.depth[0].cpu().numpy()
                frame = {"same": same, "float": same.astype(np.float64)}.get(draw_with, np.zeros(draw_with))
            img = r.draw(index if not isinstance(index, slice) else 0, depth=frame)
            assert img.shape == (*r.depth.shape[1:], 3) and img.dtype == np.uint8

        cases.append((f"api-{k}", case))
    return cases


# -- model files ----------------------------------------------------------------------------------------------

ODD_VALUES = [0, -1, 3, 14.0, "x", None, [], {}, float("nan"), float("inf"), True, [250, 250], 2 ** 40, "nyu"]
CONFIG_KEYS = ["num_joints", "skeleton", "cube_size", "input_size", "channels", "fusion_channels", "leaky_slope",
               "extra", "format", "bogus_key", "extra.preprocess", "extra.camera"]
PREPROCESS_ODD = [{"size": 0}, {"mode": "cubic"}, {"band": -1}, {"refine": "yes"}, {"cube": [0, 1, 2]},
                  {"typo": 1}, {"cube": 200.0, "band": 100.0}, "x", 3]


def _onnx_variant(rng: random.Random, src: Path, dst: Path) -> Path:
    kind = rng.choice(["truncate", "garbage", "empty", "rename_input", "rename_output", "metadata", "no_metadata",
                       "ok"])
    data = src.read_bytes()
    if kind == "truncate":
        dst.write_bytes(data[: rng.randrange(len(data))])
    elif kind == "garbage":
        dst.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
    elif kind == "empty":
        dst.write_bytes(b"")
    elif kind == "ok":
        dst.write_bytes(data)
    else:
        model = onnx.load(str(src))
        if kind == "rename_input":
            old = model.graph.input[0].name
            model.graph.input[0].name = "x"
            for node in model.graph.node:
                node.input[:] = ["x" if i == old else i for i in node.input]
        elif kind == "rename_output":
            model.graph.output[rng.randrange(len(model.graph.output))].name = "out"
        elif kind == "metadata":
            for p in model.metadata_props:
                if p.key == "lfsdk.config":
                    cfg = json.loads(p.value)
                    cfg[rng.choice(CONFIG_KEYS[:8])] = rng.choice(ODD_VALUES)
                    p.value = json.dumps(cfg)
        else:
            del model.metadata_props[:]
        onnx.save(model, str(dst))
    return dst


def _checkpoint_variant(rng: random.Random, src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    weights = (src / "model.safetensors").read_bytes()
    cfg = json.loads((src / "config.json").read_text())
    kind = rng.random()
    if kind < 0.7:
        key = rng.choice(CONFIG_KEYS)
        value = rng.choice(PREPROCESS_ODD if key == "extra.preprocess" else ODD_VALUES)
        if key.startswith("extra."):
            cfg["extra"][key[len("extra."):]] = value
        else:
            cfg[key] = value
    elif kind < 0.8:
        weights = weights[: rng.randrange(len(weights))]
    elif kind < 0.9:
        (dst / "config.json").write_text(rng.choice(["", "{", "[]", "null", "\x00\x01"]))
        (dst / "model.safetensors").write_bytes(weights)
        return dst
    (dst / "model.safetensors").write_bytes(weights)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def model_cases(checkpoint: Path, onnx_path: Path, frame: np.ndarray, workdir: Path, n: int, seed: int,
                backends: list[str]) -> list[Case]:
    """n loads of mutated checkpoints (torch), mutated ONNX files (the ONNX backends and auto) and odd
    backend options, each followed by one call on `frame` when it loads."""
    from lfsdk import HandPoseEstimator

    rng = random.Random(seed)
    cases = []
    for k in range(n):
        pick = rng.random()
        opts: dict[str, Any] = {"device": "cpu"}
        if pick < 0.4:
            path, backend = _checkpoint_variant(rng, checkpoint, workdir / f"ckpt{k}"), "torch"
        else:
            path, backend = _onnx_variant(rng, onnx_path, workdir / f"m{k}.onnx"), rng.choice(backends)
        if rng.random() < 0.3:
            opts[rng.choice(["max_batch", "threads", "thread", "maxbatch", "cuda_graphs"])] = rng.choice(
                [-1, 0, 1, 2, None, "2", 1.5, True])
        if rng.random() < 0.2:
            opts["precision"] = rng.choice(["fp32", "fp16", "bf16", "int8", "fp64", ""])

        def case(path=path, backend=backend, opts=opts):
            est = HandPoseEstimator(path, backend=backend, camera="icvl", **opts)
            check_result(est(frame), 1)

        cases.append((f"model-{k}-{backend}", case))
    return cases


# -- the CLI ---------------------------------------------------------------------------------------------------

def _cli_file(rng: random.Random, d: Path, k: int, good: np.ndarray) -> str:
    from PIL import Image

    from tests.hardening_helpers import png_header

    kind = rng.choice(["good_npy", "good_png"]) if rng.random() < 0.6 else rng.choice(
        ["odd_npy", "odd_npy", "npz", "text", "bomb", "broken_png", "missing", "dir", "rgb_png"])
    p = d / f"f{k}_{kind}{'.png' if 'png' in kind or kind == 'bomb' else '.npy'}"
    if kind == "good_npy":
        np.save(p, good)
    elif kind == "good_png":
        Image.fromarray(good).save(p)
    elif kind == "odd_npy":
        shape = rng.choice([(48, 64), (2, 48, 64), _odd_shape(rng)])
        np.save(p, _array(rng, shape, rng.choice(DTYPES[:11]), kind=rng.choice(["hand", "zeros", "noise"]),
                          odd_pixel=rng.random() < 0.5), allow_pickle=False)
    elif kind == "npz":
        np.savez(p.with_suffix(".npz"), a=good)
        p.with_suffix(".npz").rename(p)
    elif kind == "text":
        p = p.with_suffix(rng.choice([".npy", ".png", ".txt", ""]))
        p.write_text("hello")
    elif kind == "bomb":
        png_header(p, rng.choice([30000, 10 ** 5, 65535]), rng.choice([30000, 2]))
    elif kind == "broken_png":
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(40)))
    elif kind == "dir":
        p.mkdir()
    elif kind == "rgb_png":
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(p)
    return str(p)


def cli_cases(model: str, good: np.ndarray, workdir: Path, n: int, seed: int) -> list[Case]:
    """n runs of `lfsdk estimate` (in process, cli.main) on random files and options. Each must exit 0 or 2
    (argparse's own usage errors also exit 2) with every problem on one `error:` line and no traceback, and
    write the frames of the good files."""
    from lfsdk.cli import main

    rng = random.Random(seed)
    cases = []
    for k in range(n):
        d = workdir / f"cli{k}"
        d.mkdir(parents=True)
        files = [_cli_file(rng, d, j, good) for j in range(rng.randrange(1, 4))]
        args = ["estimate", *files, "--model", model, "--backend", "onnxruntime"]
        out = rng.choice(["p.json", "p.json", "p.csv", None]) if rng.random() < 0.8 else rng.choice(
            ["p.txt", "dir.json", "missing/p.json"])
        if out == "dir.json":
            (d / out).mkdir()
        if out is not None:
            args += ["-o", str(d / out)]
        if rng.random() < 0.2:
            args += ["--camera", rng.choice(["icvl", "", "foo", "1e39,1,1,1", "241,241,160,120", "0,0,0,0"])]
        if rng.random() < 0.1:
            args += ["--batch", rng.choice(["0", "2", "-3", "x"])]
        if rng.random() < 0.1:
            (d / "taken").write_text("x")
            args += ["--draw", str(d / rng.choice(["taken", "overlays"]))]

        def case(args=args, out=out, d=d):
            err, std = io.StringIO(), io.StringIO()
            try:
                with redirect_stderr(err), redirect_stdout(std):
                    rc = main(args)
            except SystemExit as e:  # argparse: usage line + one error line
                rc = e.code
            text = err.getvalue()
            assert rc in (0, 2), f"exit {rc}: {text}"
            assert "Traceback" not in text, text
            errors = [ln for ln in text.splitlines() if "error:" in ln]
            assert (rc == 2) == bool(errors), f"exit {rc} with error lines {errors}"
            if rc == 2 and not (out and out.endswith(".json") and (d / out).is_file()):
                raise ValueError(errors[0])  # a clear error (counted as one)
            if out and out.endswith(".json"):
                doc = json.loads((d / out).read_text())
                for rec in doc["frames"]:
                    xyz = np.array([[math.nan if v is None else v for v in j] for j in rec["joints_xyz"]])
                    assert np.isfinite(xyz).all() == rec["found"], "found=True with non-finite joints"

        cases.append((f"cli-{k}", case))
    return cases
