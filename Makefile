# The README's commands. Everything installs into .venv from the hash-pinned requirements.lock, compiled to bytecode
# once: the tests start a Python process per CLI call, and one that compiles moto and botocore again takes seconds.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed
CHECKOV := $(VENV)/checkov

.PHONY: install demo test lint bench faults soak lock clean

install: $(STAMP)

$(STAMP): requirements.lock requirements-checkov.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	test -x $(CHECKOV)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(CHECKOV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(CHECKOV)/bin/python --require-hashes -r requirements-checkov.lock
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/emailpipe demo

test: $(STAMP)
	$(BIN)/ruff check functions tests benchmarks
	$(BIN)/ruff format --check functions tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m compileall -q functions tests benchmarks
	$(BIN)/python -m pytest -n 4 -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# A burst of agent replies while 10% of the handlers' AWS calls fail (5xx, throttling, timeouts, killed processes):
# exits non-zero unless every email has one outcome, one notification and nothing is lost (tests/faults/run.py).
faults: $(STAMP)
	$(BIN)/python -m tests.faults.run --emails 200 --rate 0.1 --results benchmarks/faults.json

# The same at 5,000 emails, with the peak memory of the process (the moto server runs in it).
soak: $(STAMP)
	$(BIN)/python -m tests.faults.run --emails 5000 --rate 0.1 --rss --results benchmarks/soak.json

# Re-pin after editing pyproject.toml dependencies (needs network to PyPI).
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-emit-index-url --generate-hashes --extra dev pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-emit-index-url --no-header --generate-hashes pyproject.toml -o functions/requirements.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-emit-index-url --generate-hashes requirements-checkov.in -o requirements-checkov.lock

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache
