# nenscope: the two commands are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install demo test fuzz lint bench clean

install: $(STAMP)

# Re-installs only when the package metadata changes (idempotent, fast otherwise).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

demo: install
	$(BIN)/python -m nenscope.demo

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The bad-input corpus with hypothesis for longer runs (FUZZ_EXAMPLES, default 2000).
fuzz: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz_bad_input.py --hypothesis-show-statistics

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: install
	$(BIN)/python -m pip install --quiet -e '.[all,test,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
