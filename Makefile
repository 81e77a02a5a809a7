# mmseg_uda: `make demo` and `make test` set up what is missing first.
PYTHON ?= python3
DEMO_ROOT ?= data/demo
DEMO_WORK_DIR ?= work_dirs/demo
# Offline install: `make setup WHEELS=DIR` installs from DIR alone (fill it with `make wheels WHEELS=DIR`
# on a connected machine). FORCE_CUDA=1 compiles mmcv's CUDA ops; by default its CPU ops.
WHEELS ?=

.PHONY: setup setup-tests wheels demo test test-fast test-faults clean-demo

setup:
	PYTHON=$(PYTHON) WHEELS=$(WHEELS) bash tools/setup_env.sh

setup-tests:
	PYTHON=$(PYTHON) WHEELS=$(WHEELS) WITH_TESTS=1 bash tools/setup_env.sh

wheels:
	@test -n "$(WHEELS)" || { echo "usage: make wheels WHEELS=DIR [WHEELS_ARGS='--python-version 3.12 ...']"; exit 2; }
	PYTHON=$(PYTHON) bash tools/download_wheels.sh $(WHEELS) --with-tests $(WHEELS_ARGS)

demo: setup
	$(PYTHON) tools/demo/run_demo.py --data-root $(DEMO_ROOT) --work-dir $(DEMO_WORK_DIR)

test: setup-tests
	$(PYTHON) -m pytest tests

# every test but the slow ones: the end-to-end runs of the tools and the tests
# that take seconds each (a subset of `make test`; under 3 minutes on 2 cores)
test-fast: setup-tests
	$(PYTHON) -m pytest tests -m "not slow"

# the fault and property tests only (a subset of `make test`)
test-faults: setup-tests
	$(PYTHON) -m pytest tests -m reliability

clean-demo:
	rm -rf $(DEMO_WORK_DIR)
