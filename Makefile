# cryonb: the README's two commands. `make demo` and `make test` each create .venv when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cryonb-installed
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install demo test figures chromium probe strip clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q -e ".[dev,validation]" $(PIP_QUIET)
	$(PY) -m pip install -q --no-deps MDAnalysisTests==2.11.0 $(PIP_QUIET)
	@touch $(STAMP)

install: $(STAMP)

# Debian chromium for the real-browser test; where it cannot be installed the test skips and says why.
chromium:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian chromium for the browser test"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "could not install chromium: the browser test will skip"; \
	else echo "chromium not available and not installable (needs root + apt): the browser test will skip"; fi

# Debian king-probe for the MolProbity clashscore reference; without it those tests skip and say why.
probe:
	@if command -v king-probe >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian king-probe for the MolProbity reference tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq king-probe >/dev/null; } \
			|| echo "could not install king-probe: the MolProbity reference tests will skip"; \
	else echo "king-probe not available and not installable (needs root + apt): the MolProbity reference tests will skip"; fi

# GMM-DNN refinement of AdK open into a simulated closed-state map at 5 Å (a few minutes on 2 free CPU
# cores); the notebook writes summary.txt, the before/after table printed last.
# Notebook parameters: make demo DEMO_ARGS="-p threads 1" (one thread is faster on a busy machine).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/cryonb notebook 05_single_refinement --run demo $(DEMO_ARGS)
	@echo; cat papermill_runs/05_single_refinement/demo/summary.txt

test: $(STAMP) chromium probe
	$(PY) -m pytest

# Every file in figures/ from the committed records in figures/data (seconds; docs/figures.md says how
# the records are refreshed from runs).
figures: $(STAMP)
	$(VENV)/bin/cryonb figures --data figures/data --out figures

# Notebooks are jupytext pairs (cryonb/notebooks/NN_name.ipynb + .py): bring each pair in step from
# its newer side, then strip the .ipynb's outputs.
strip: $(STAMP)
	$(VENV)/bin/jupytext --sync cryonb/notebooks/[0-9][0-9]_*.ipynb
	$(PY) -c "import glob; from cryonb.notebook_runs import strip_outputs; [print('stripped', p) for p in sorted(glob.glob('cryonb/notebooks/*.ipynb')) if strip_outputs(p)]"

clean-venv:
	rm -rf $(VENV)
