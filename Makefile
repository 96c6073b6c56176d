# The two commands: `make run` (the bank) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export WANGYIN_TEST_PGDATA ?= $(CURDIR)/var/pgdata-test

.PHONY: install run test lint bench-ledger bench-transfers bench-risk bench-batch clean-db

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/wangyin run

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	WANGYIN_PGDATA=$(WANGYIN_TEST_PGDATA) $(BIN)/pytest
	$(BIN)/wangyin compliance > /dev/null  # docs/compliance.md from this run

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench-ledger: $(STAMP)
	$(BIN)/python bench/ledger_bench.py $(ARGS)

bench-transfers: $(STAMP)
	$(BIN)/python bench/transfers_bench.py $(ARGS)

bench-risk: $(STAMP)
	$(BIN)/python bench/risk_evaluate.py $(ARGS)

bench-batch: $(STAMP)
	$(BIN)/python bench/corporate_batch.py $(ARGS)

clean-db:
	rm -rf var/pgdata var/pgdata-test var/pgdata-bench
