# mmseg_uda: `make demo` and `make test` set up what is missing first.
PYTHON ?= python3
DEMO_ROOT ?= data/demo
DEMO_WORK_DIR ?= work_dirs/demo

.PHONY: setup setup-tests demo test test-fast test-faults clean-demo

setup:
	PYTHON=$(PYTHON) bash tools/setup_env.sh

setup-tests:
	PYTHON=$(PYTHON) WITH_TESTS=1 bash tools/setup_env.sh

demo: setup
	$(PYTHON) tools/demo/run_demo.py --data-root $(DEMO_ROOT) --work-dir $(DEMO_WORK_DIR)

test: setup-tests
	$(PYTHON) -m pytest tests

# every test but the slow end-to-end runs of the tools (a subset of `make test`)
test-fast: setup-tests
	$(PYTHON) -m pytest tests -m "not slow"

# the fault and property tests only (a subset of `make test`)
test-faults: setup-tests
	$(PYTHON) -m pytest tests -m reliability

clean-demo:
	rm -rf $(DEMO_WORK_DIR)
