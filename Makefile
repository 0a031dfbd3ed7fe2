# improv: two commands do all the set-up on a fresh machine:
#   make play   - bootstrap .venv, then improvise live on a virtual MIDI port (default model and tune)
#   make test   - bootstrap .venv with the test AND training extras (pytest, ruff, TensorFlow: the venv
#                 grows to about 1.8 GB) (+ jackd2 for the MIDI tests), then run the test suite
#   make shell  - a shell with .venv/bin (improv, python, pytest) first on PATH
# Other targets: make bench, make lint, make model (retrain the shipped model), make clean.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
WJAZZD ?= ../shared/data/wjazzd
PLAY_ARGS ?=

.PHONY: play test bench lint model shell system-deps clean help

help:
	@sed -n '1,6p' Makefile

# `make play` needs only the run-time dependencies; tests and training add pytest, ruff and TensorFlow.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[plot,synth]'
	touch $(RUN_STAMP)

# the training tests need TensorFlow, so `make test` installs the train extra too (about 1.3 GB)
$(STAMP): $(RUN_STAMP)
	@echo "installing the test and training extras (pytest, ruff, TensorFlow: about 1.8 GB in .venv) ..."
	$(PY) -m pip install --quiet -e '.[test,train]'
	touch $(STAMP)

# jackd2 gives the tests (and `make play` on a machine with no ALSA sequencer) a real MIDI server;
# libfluidsynth3 and a General MIDI soundfont give `make play` its sound (and the audio tests a synth);
# the fluidsynth command is the separate JACK synth one audio test plays to.
system-deps:
	@missing=""; \
	command -v jackd >/dev/null 2>&1 || missing="$$missing jackd2"; \
	ldconfig -p 2>/dev/null | grep -q libfluidsynth || missing="$$missing libfluidsynth3"; \
	ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1 || missing="$$missing fluid-soundfont-gm"; \
	command -v fluidsynth >/dev/null 2>&1 || missing="$$missing fluidsynth"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing system packages: sudo apt-get install$$missing (MIDI tests: jackd2; sound: the others)"; \
	  fi; \
	fi

# With an audio output: a quartet through FluidSynth; without one, the solo on the virtual port "improv".
play: $(RUN_STAMP) system-deps
	@mkdir -p out
	@if $(PY) -m improv.live.audioprobe; then \
	  echo "make play: soloist, bass, comping and drums through FluidSynth (Ctrl-C stops)"; \
	  $(VENV)/bin/improv play --synth --band all --record out/last-session.mid $(PLAY_ARGS); \
	else \
	  echo "make play: no audio output here (above); playing on the virtual MIDI port 'improv' instead"; \
	  scripts/with-midi $(VENV)/bin/improv play --virtual --record out/last-session.mid $(PLAY_ARGS); \
	fi

test: $(STAMP) system-deps
	$(PY) -m pytest -q

bench: $(STAMP) system-deps
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(PY) -m ruff check improv tests benchmarks

# Retrain the shipped default model on the whole Weimar Jazz Database (needs ../shared/data).
model: $(STAMP)
	$(VENV)/bin/improv train --corpus $(WJAZZD) --out improv/models/default --vocabulary degree \
		--conditioning-version 3 --shared-features --layers 1 --units 128 --recurrent-dropout 0.4 --output-dropout 0.3 \
		--window 128 --batch-size 64 --learning-rate 0.006 --lr-plateau 0.5 --epochs 60 --patience 4 \
		--carry-state --fit-minutes 20 --seed 0

# `exit` leaves it; `. .venv/bin/activate` does the same in the current shell
shell: $(RUN_STAMP)
	@echo "improv shell: $(VENV)/bin is first on PATH (improv --help; exit to leave)"
	@VIRTUAL_ENV="$(CURDIR)/$(VENV)" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $${SHELL:-/bin/sh} -i

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
