from pathlib import Path

from setuptools import find_packages, setup

version = next(line.split('"')[1] for line in Path("lfsdk/_version.py").read_text().splitlines()
               if line.startswith("__version__"))

setup(
    name="lfsdk",
    version=version,
    description="Latent Fusion hand pose estimation: PyTorch → ONNX → TensorRT, batched GPU pre/post-processing",
    long_description=Path("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # lfsdk and its subpackages from lfsdk/, plus lfsdk.export and lfsdk.kernels from top-level folders
    packages=["lfsdk", *(f"lfsdk.{p}" for p in find_packages("lfsdk")), "lfsdk.export", "lfsdk.kernels"],
    package_dir={"lfsdk.export": "export", "lfsdk.kernels": "kernels"},
    package_data={"lfsdk": ["assets/*", "assets/*/*"]},
    install_requires=[
        # torch is not pinned here: the Makefile installs the CPU build on machines without CUDA so pip
        # never pulls the multi-GB CUDA wheels; any torch ≥ 2.4 works.
        "torch>=2.4",
        "numpy>=1.24",
        "safetensors>=0.4",
        "onnx>=1.16",
        "onnxruntime>=1.18",
        "onnxscript>=0.1",
        "onnxslim>=0.1.40",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "pillow>=10",
        "scipy>=1.10",
    ],
    extras_require={
        # openvino: the CPU fast path auto() prefers, so its parity tests run in CI too
        # OneEuroFilter: the authors' reference the One Euro tests compare against; pyrealsense2 + av: the
        # RealSense record/playback and `lfsdk track --video` tests (pyrealsense2 needs Debian's libusb-1.0-0)
        "test": ["pytest>=8", "pytest-timeout", "pytest-benchmark>=4", "hypothesis>=6", "triton>=3.0", "openvino>=2024.4",
                 "OneEuroFilter>=0.2", "pyrealsense2>=2.55", "av>=12"],
        "realsense": ["pyrealsense2>=2.55"],  # lfsdk.sources.RealSenseSource; needs Debian's libusb-1.0-0
        "video": ["av>=12"],  # lfsdk track --video
        "tensorrt": ["tensorrt>=10.8"],
        "openvino": ["openvino>=2024.4"],  # the CPU fast path (lfsdk.backends.openvino)
        # `lfsdk serve` + lfsdk.serving.Client + config validation of lfsdk-export --triton-repo; PyTriton 0.7
        # pins numpy<2, so install this extra in its own environment (see the Makefile's serve target)
        "serve": ["nvidia-pytriton>=0.7", "tritonclient[http,grpc]>=2.50", "numpy<2"],
    },
    entry_points={"console_scripts": [
        "lfsdk=lfsdk.cli:main",
        "lfsdk-train=lfsdk.train:main",
        "lfsdk-eval=lfsdk.evaluate:main",
        "lfsdk-export=lfsdk.export.onnx:main",
        "lfsdk-build=lfsdk.export.tensorrt:main",
        "lfsdk-bench=lfsdk.bench:main",
        "lfsdk-triton-repo=lfsdk.export.triton:main",
    ]},
)
