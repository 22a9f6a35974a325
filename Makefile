# lfsdk: `make demo` sets up and runs the demo, `make test` runs the tests. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# PyTriton (the [serve] extra) pins numpy<2, so serving gets its own environment beside the main one.
VENV_SERVE := .venv-serve
SERVE_PY   := $(VENV_SERVE)/bin/python
# On a machine without an NVIDIA driver, install the CPU build of torch first, so that resolving
# "torch>=2.4" later never pulls the multi-GB CUDA wheels.
TORCH_CPU := torch==2.13.0
HAS_CUDA  := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)

, := ,
.PHONY: setup serve-setup demo test test-serving bench bench-serving serve clean

setup: $(VENV)/.installed
serve-setup: $(VENV_SERVE)/.installed

# $(call install,VENV,EXTRAS)
define install
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --upgrade pip
	$(if $(HAS_CUDA),,$(1)/bin/python -c "import torch" 2>/dev/null || $(1)/bin/python -m pip install -q $(TORCH_CPU))
	$(1)/bin/python -m pip install -q -e ".[$(2)]"
	touch $(1)/.installed
endef

$(VENV)/.installed: setup.py
	$(call install,$(VENV),test)

$(VENV_SERVE)/.installed: setup.py
	$(call install,$(VENV_SERVE),test$(,)serve)

# the overlay goes under build/ (git-ignored), not into the checkout
demo: setup
	$(VENV)/bin/lfsdk demo -o build/lfsdk_demo.png

test: setup test-serving
	TRITON_INTERPRET=1 $(PY) -m pytest -q -p no:cacheprovider tests

# lfsdk serve, the Client and the Triton model repository against real PyTriton/tritonclient
test-serving: serve-setup
	TRITON_INTERPRET=1 OMP_NUM_THREADS=1 $(SERVE_PY) -m pytest -q -p no:cacheprovider tests/serving tests/export/test_triton.py

bench: setup
	$(PY) -m pytest -q benchmarks/bench_kernels.py benchmarks/bench_synthetic.py benchmarks/bench_export.py \
		benchmarks/bench_cpu_backends.py --benchmark-only
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -m fuzz tests/test_fuzz.py
	$(VENV)/bin/lfsdk-bench --quick

bench-serving: serve-setup
	OMP_NUM_THREADS=1 $(SERVE_PY) benchmarks/bench_serving.py

serve: serve-setup
	$(VENV_SERVE)/bin/lfsdk serve $(ARGS)

clean:
	rm -rf $(VENV) $(VENV_SERVE) build *.egg-info
