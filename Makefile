# sdmkit: two commands.
#   make demo  – run every notebook headless into outputs/ (executed .ipynb + HTML)
#   make test  – ruff + the whole pytest suite (notebooks included, small setting)
# Both create .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
PYTEST_ARGS ?=

# PyTensor (PyMC) compiles C once and reuses it from here across runs.
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/.cache/pytensor
# A relative SDMKIT_DATA_DIR would break in notebooks, which run from notebooks/.
ifdef SDMKIT_DATA_DIR
export SDMKIT_DATA_DIR := $(abspath $(SDMKIT_DATA_DIR))
endif

GEOCLIP_WHEEL := .cache/weights/geoclip-1.3.0-py3-none-any.whl
# GeoCLIP's location-encoder weights ship inside its wheel (MIT); fetched from PyPI, never imported.
export SDMKIT_GEOCLIP_WHEEL ?= $(CURDIR)/$(GEOCLIP_WHEEL)

.PHONY: demo test lint format venv weights clean

venv: $(STAMP)

weights: $(GEOCLIP_WHEEL)

$(GEOCLIP_WHEEL): | $(STAMP)
	mkdir -p $(dir $@)
	$(BIN)/pip download --no-deps "geoclip==1.3.0" -d $(dir $@)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# the CPU build of torch first, pinned, so nothing pulls a CUDA build
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[all,dev]"
	touch $(STAMP)

test: $(STAMP) $(GEOCLIP_WHEEL)
	$(BIN)/ruff check sdmkit tests notebooks data benchmarks
	MPLBACKEND=Agg SDMKIT_NB_SIZE=smoke $(BIN)/pytest tests --nbmake notebooks $(PYTEST_ARGS)

demo: $(STAMP) $(GEOCLIP_WHEEL)
	mkdir -p outputs
	@for nb in $(NOTEBOOKS); do \
	  name=$$(basename $$nb .ipynb); \
	  echo "== $$name"; \
	  env -u MPLBACKEND $(BIN)/papermill --cwd notebooks $$nb outputs/$$name.ipynb -p SIZE default || exit 1; \
	  $(BIN)/jupyter nbconvert --to html outputs/$$name.ipynb --output-dir outputs || exit 1; \
	done
	@echo "Results: executed notebooks and HTML in $(CURDIR)/outputs/"

lint: $(STAMP)
	$(BIN)/ruff check sdmkit tests notebooks data benchmarks

format: $(STAMP)
	$(BIN)/ruff format sdmkit tests notebooks data benchmarks
	$(BIN)/jupytext --sync notebooks/*.py

clean:
	rm -rf outputs .cache .pytest_cache .ruff_cache
