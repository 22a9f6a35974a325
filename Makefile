# lfsdk: `make demo` sets up and runs the demo, `make test` runs the tests. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# On a machine without an NVIDIA driver, install the CPU build of torch first, so that resolving
# "torch>=2.4" later never pulls the multi-GB CUDA wheels.
TORCH_CPU := torch==2.13.0
HAS_CUDA  := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)

.PHONY: setup demo test bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
ifneq ($(HAS_CUDA),1)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_CPU)
endif
	$(PIP) install -q -e ".[test]"
	touch $@

demo: setup
	$(VENV)/bin/lfsdk info --model

test: setup
	TRITON_INTERPRET=1 $(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) -m pytest -q benchmarks --benchmark-only

clean:
	rm -rf $(VENV) build *.egg-info
