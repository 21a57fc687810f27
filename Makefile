# make demo: set up .venv and run flywheel end to end on the bundled examples.
# make test: set up .venv and run the whole test suite.
# make docs: regenerate the generated parts of docs/ (every example's artifacts, the API's signatures).
# make bench: run every benchmark and write benchmarks/RESULTS.md (QUICK=1: a few minutes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
FW     := $(VENV)/bin/flywheel
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
DEMO   := demo

.PHONY: demo test soak bench setup clean check-isolated docs

$(VENV)/.installed: pyproject.toml $(PLUGINS) requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e ".[postgres]" $(foreach p,$(PLUGINS),-e "$(patsubst %/,%,$(dir $(p)))[test]") -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

soak: setup
	$(PY) -m pytest -m soak -q -s -p no:cacheprovider tests plugins

docs: setup
	$(PY) scripts/docs-examples.py
	$(PY) scripts/docs-api.py

bench: setup
	$(PY) benchmarks/run_all.py $(if $(QUICK),--quick)

check-isolated: setup
	bash scripts/test-isolated.sh

clean:
	rm -rf $(VENV) $(DEMO) flywheel-out .flywheel
