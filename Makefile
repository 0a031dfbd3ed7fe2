# improv: two commands do all the set-up on a fresh machine:
#   make play   - bootstrap .venv, then improvise live on a virtual MIDI port (default model and tune)
#   make test   - bootstrap .venv (+ jackd2 for the MIDI tests), then run the test suite
# Other targets: make bench, make lint, make model (retrain the shipped model), make clean.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
WJAZZD ?= ../shared/data/wjazzd
PLAY_ARGS ?=

.PHONY: play test bench lint model system-deps clean help

help:
	@sed -n '1,6p' Makefile

# `make play` needs only the run-time dependencies; tests and training add pytest, ruff and TensorFlow.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[plot]'
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[test,train]'
	touch $(STAMP)

# jackd2 gives the tests (and `make play` on a machine with no ALSA sequencer) a real MIDI server.
system-deps:
	@if ! command -v jackd >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jackd2; \
	  else \
	    echo "jackd is not installed: sudo apt-get install jackd2 (the MIDI tests need it)"; \
	  fi; \
	fi

play: $(RUN_STAMP) system-deps
	@mkdir -p out
	scripts/with-midi $(VENV)/bin/improv play --virtual --record out/last-session.mid $(PLAY_ARGS)

test: $(STAMP) system-deps
	$(PY) -m pytest -q

bench: $(STAMP) system-deps
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(PY) -m ruff check improv tests benchmarks

# Retrain the shipped default model on the whole Weimar Jazz Database (needs ../shared/data).
model: $(STAMP)
	$(VENV)/bin/improv train --corpus $(WJAZZD) --out improv/models/default --vocabulary degree \
		--conditioning-version 2 --layers 2 --units 96 --dropout 0.1 --window 128 --batch-size 64 \
		--learning-rate 0.006 --epochs 24 --patience 3 --seed 0

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
