# kwsq: every target sets itself up (venv + Debian tools) first; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= $(shell command -v python3.11 || command -v python3)
VENV       := .venv
PY         := $(VENV)/bin/python
KWSQ       := $(VENV)/bin/kwsq
STAMPS     := .stamps
DATA       ?= data/kwsq_synth
RUN        ?= demo
PYTEST_ARGS ?=

APT_PACKAGES := qemu-system-arm qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
	espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox clang \
	festvox-italp16k festvox-itapc16k festvox-suopuhe-lj festvox-suopuhe-mv festvox-ca-ona-hts \
	festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph festvox-ru

.PHONY: help setup setup-sam demo paper train convert bench bench-runs test lint runtime clean distclean

help:
	@echo "make demo    set up, synthesize the embedded corpus, train, convert, verify, summarize"
	@echo "make paper   the papers' comparisons over 3 seeds into docs/paper/report.md (hours)"
	@echo "make test    set up, then run the whole test suite"
	@echo "make setup   only the set-up (.venv + Debian tools); idempotent"
	@echo "make setup-sam  opt-in: SAM voices for kwsq synth --families ...,sam (no licence)"
	@echo "make train RUN=name CONFIG=file.toml | convert RUN=name | bench | lint | runtime | clean"

setup: $(STAMPS)/apt $(STAMPS)/venv

$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo "setup: Debian tools already installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "setup: installing Debian tools (about a minute)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null \
		|| { echo "setup: apt-get install failed" >&2; exit 1; }; \
	else \
		echo "setup: kwsq needs these Debian packages; run as root or install them:" >&2; \
		echo "  sudo apt-get install $(APT_PACKAGES)" >&2; exit 1; \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || { echo "setup: creating $(VENV) with $(PYTHON_SYS)"; $(PYTHON_SYS) -m venv $(VENV); }
	@echo "setup: installing kwsq and its pinned dependencies into $(VENV) (about a minute the first time)"
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' > $(STAMPS)/pip.log 2>&1 \
		|| { cat $(STAMPS)/pip.log >&2; echo "setup: pip install failed (log above)" >&2; exit 1; }
	@$(PY) -c "import pipeline, tensorflow, tf_keras, tensorflow_model_optimization, ai_edge_litert, tflite_micro" \
		> $(STAMPS)/import.log 2>&1 \
		|| { cat $(STAMPS)/import.log >&2; echo "setup: the Python environment is incomplete" >&2; exit 1; }
	@touch $@

# Opt-in, not part of setup: SAM voices for `kwsq synth --families espeak,flite,festival,sam`.
# samtts has no licence (docs/data.md, "SAM"); --no-deps because its pyaudio dependency is
# only for playback (and needs PortAudio headers to build).
SAMTTS := samtts==0.3.0
setup-sam: setup
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps '$(SAMTTS)'
	@$(PY) -c "import samtts" && echo "setup-sam: $(SAMTTS) installed"

runtime: setup
	@$(MAKE) --no-print-directory -C tflm_port

# The demo: the SVD DNN at float, int8 and 4 bit (w4a8, forked from the same float model),
# 1.5 hours of streams (1 hour without any keyword), DET figures and the Cortex-M4 row.
DEMO_W4 := $(RUN)-w4a8
demo: setup
	$(KWSQ) synth --out $(DATA) --size small --streams --stream-minutes 30
	$(KWSQ) train --data $(DATA) --run runs/$(RUN) --preset demo
	$(KWSQ) convert runs/$(RUN)
	$(PY) -m pipeline.evaluate.paper fork runs/$(RUN) runs/$(DEMO_W4) --scheme w4a8
	$(KWSQ) train --run runs/$(DEMO_W4)
	$(KWSQ) convert runs/$(DEMO_W4) --no-size-table
	$(KWSQ) eval runs/$(RUN)
	$(KWSQ) eval runs/$(DEMO_W4) --backends qat,litert,kwsq
	$(KWSQ) bench runs/$(RUN) runs/$(DEMO_W4) --target m4 --out runs/$(RUN)/bench_m4.json
	$(KWSQ) report runs/$(RUN) --with runs/$(DEMO_W4)

# make paper: the full embedded corpus by default, or DATA=/path/to/speech_commands_v2.
# PAPER_SCALE=full|small (docs/paper/report.md states the scale it was made at);
# PAPER_EXPERIMENTS=lowbit,tanh,fxp or a subset (each replaces its own tables only).
PAPER_DATA  := $(if $(filter command line environment,$(origin DATA)),$(DATA),data/kwsq_full)
PAPER_SCALE ?= full
PAPER_EXPERIMENTS ?= lowbit,tanh,fxp
paper: setup
	@if [ ! -f $(PAPER_DATA)/testing_list.txt ] || [ -f $(PAPER_DATA)/kwsq_synth.json ]; then \
		$(KWSQ) synth --out $(PAPER_DATA) --size full; fi
	$(PY) -m pipeline.evaluate.paper run --data $(PAPER_DATA) --scale $(PAPER_SCALE) \
		--experiments $(PAPER_EXPERIMENTS) --runs runs/paper --out docs/paper

train: setup
	$(KWSQ) train --data $(DATA) --run runs/$(RUN) $(if $(CONFIG),--config $(CONFIG),--preset demo)

convert: setup
	$(KWSQ) convert runs/$(RUN)

# make bench: the anchor models (when ../shared/anchor_models is there), the demo run and its
# twins trained at float and 4-bit, the 250K-parameter DNN at float, int8 and 4-bit, and the
# DS-CNN (convolutional) at float, int8 and 4-bit, on every target and kernel folder, and twelve
# generated int8 models of other layer shapes (the general-shapes section, built into
# runs/bench/general_shapes/ once, measured on m4/dsp, m55/mve and a64/neon); report in
# runs/bench/ and a dated copy in docs/.  Runs that are missing are trained first when the
# corpus is there (a few minutes each).
BENCH_RUNS := $(RUN):svd_dnn:int8 $(RUN)-float:svd_dnn:float $(RUN)-w4a8:svd_dnn:w4a8 \
	dnn250k-float:dnn250k:float dnn250k-int8:dnn250k:int8 dnn250k-w4a8:dnn250k:w4a8 \
	ds_cnn-float:ds_cnn:float ds_cnn-int8:ds_cnn:int8 ds_cnn-w4a8:ds_cnn:w4a8

bench-runs: setup
	@for spec in $(BENCH_RUNS); do \
		run=$${spec%%:*}; rest=$${spec#*:}; model=$${rest%%:*}; scheme=$${rest#*:}; \
		[ -f runs/$$run/model.tflite ] && continue; \
		if [ ! -d "$(DATA)" ]; then \
			echo "bench: no corpus at $(DATA) (make demo synthesizes it): not training runs/$$run"; \
			continue; \
		fi; \
		echo "bench: training runs/$$run ($$model, $$scheme) to measure it"; \
		$(KWSQ) train --data $(DATA) --run runs/$$run --preset demo --model $$model \
			--scheme $$scheme && $(KWSQ) convert runs/$$run \
			|| echo "bench: runs/$$run did not train or convert cleanly (above); measuring what exists"; \
	done

bench: bench-runs
	$(KWSQ) bench --suite runs/bench $(foreach s,$(BENCH_RUNS),runs/$(firstword $(subst :, ,$(s))))

test: setup
	$(PY) -m pytest $(PYTEST_ARGS) tests

lint: setup
	$(VENV)/bin/ruff check pipeline models quant_configs tests

clean:
	rm -rf runs .pytest_cache
	-$(MAKE) --no-print-directory -C tflm_port clean 2>/dev/null

distclean: clean
	rm -rf $(VENV) $(STAMPS) data
