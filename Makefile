# Common commands. `make run` and `make test` set everything up on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
RESULTS ?= results
SITE ?= build/site
# The main job's tasks: every task that reads the cached representations (one extraction pass per
# model). The steering tasks (intervention_*, logit_lens) run their own forward passes, about
# an hour more for whisper-base on 2 cores: `make run TASKS=all`.
TASKS ?= cross_lingual_gap_text,cross_lingual_gap_speech,cross_modal_gap,retrieval_text,retrieval_speech,retrieval_speech_text,concept_words_text,concept_words_speech,concept_sentences

.PHONY: setup run site board test test-fast lint format bench probes golden screenshots validity clean

setup:
	@bash tools/bootstrap.sh

## The main job: $(TASKS) on the embedded concepts probes, on whisper-base (speech and text)
## and multilingual-e5-small (text only: its speech tasks say "not applicable").
run: setup
	$(VENV)/bin/interlingua run --model openai/whisper-base --tasks $(TASKS) --output $(RESULTS)
	$(VENV)/bin/interlingua run --model intfloat/multilingual-e5-small --model-setting 'prefix=query: ' --tasks $(TASKS) --output $(RESULTS)
	@$(MAKE) --no-print-directory site

## The static leaderboard of $(RESULTS) (and the submission files), then the path to open.
site: setup
	$(VENV)/bin/interlingua leaderboard build --results $(RESULTS) --out $(SITE) --submissions submissions

## The public board: every reviewed submission run into leaderboard/results (committed; finished
## keys are skipped), then its site in build/board/. JOBS=N splits the submissions over N processes
## (`submissions run --shard I/N`, each with cores/N threads; docs/leaderboard.md#scale-past-one-machine).
## PRIVATE=DIR also scores them on the private split in DIR (docs/private_split.md).
## RESULTS_REPO=ORG/NAME links each raw result from that results dataset instead of copying it
## (publish with --results-repo ORG/NAME --results leaderboard/results; docs/leaderboard.md).
## The known-answer reference rows (docs/validity.md) run on the representation tasks beside them.
JOBS ?= 1
PRIVATE ?=
REFERENCES ?= interlingua language word_form signal
REFERENCE_TASKS ?= cross_lingual_gap_text,cross_lingual_gap_speech,cross_modal_gap,retrieval_text,retrieval_speech,retrieval_speech_text,concept_words_text,concept_words_speech,concept_sentences
NPROC := $(shell nproc 2>/dev/null || echo 1)
THREADS = $(shell n=$$(( $(NPROC) / $(JOBS) )); [ $$n -ge 1 ] && echo $$n || echo 1)
board: setup
	@seq 0 $$(( $(JOBS) - 1 )) | xargs -P $(JOBS) -I{} env OMP_NUM_THREADS=$(THREADS) \
		$(VENV)/bin/interlingua submissions run --shard {}/$(JOBS) --output leaderboard/results --no-progress
	@for ref in $(REFERENCES); do $(VENV)/bin/interlingua run --model known:$$ref --tasks $(REFERENCE_TASKS) \
		--output leaderboard/results --no-progress || exit 1; done
	@if [ -n "$(PRIVATE)" ]; then seq 0 $$(( $(JOBS) - 1 )) | xargs -P $(JOBS) -I{} env OMP_NUM_THREADS=$(THREADS) \
		$(VENV)/bin/interlingua submissions run --shard {}/$(JOBS) --probes $(PRIVATE) --output build/private-results --no-progress; fi
	$(VENV)/bin/interlingua leaderboard build --results leaderboard/results --out build/board --submissions submissions \
		$(if $(PRIVATE),--split private=build/private-results) $(if $(RESULTS_REPO),--results-repo $(RESULTS_REPO))

## Screenshots of each page type of the built site, in build/screenshots/.
screenshots: site
	$(PY) -m leaderboard.screenshots --site $(SITE) --out build/screenshots

## Regenerate the golden results (tests/golden/results) after a change that moves the numbers on
## purpose; it prints what moved. Review the diff and commit it.
golden: setup
	$(PY) tests/golden_suite.py --write

## The validity table (docs/validity.md): every task on every known-answer reference model, each
## verdict checked against its task's `validity:` block. The page is rewritten even when checks fail
## (tests/test_validity.py is the gate: its KNOWN_FAILURES must still fail, the rest must hold).
validity: setup
	-$(VENV)/bin/interlingua validity --write docs/validity.md

## The whole test suite (what CI runs).
test: setup
	$(PY) -m pytest -q

## Skip the tests that convert and run the real offline models.
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check benchmark leaderboard tests benchmarks
	$(VENV)/bin/ruff format --check benchmark leaderboard tests benchmarks

format: setup
	$(VENV)/bin/ruff format benchmark leaderboard tests benchmarks
	$(VENV)/bin/ruff check --fix benchmark leaderboard tests benchmarks

## Speed and memory benchmarks (print ratios; see benchmarks/README.md).
bench: setup
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

## Rebuild the embedded probe sets (needs espeak-ng; the built files are committed).
probes: setup
	$(VENV)/bin/pip install -q -e ".[probes]"
	$(VENV)/bin/interlingua probes build udhr
	$(VENV)/bin/interlingua probes build concepts

clean:
	rm -rf $(RESULTS) .pytest_cache .ruff_cache
