# nmtkit: `make demo` runs the whole pipeline on a generated task; `make test` runs the tests.
# Both build the virtual environment first when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := runs/demo-dates

.PHONY: install demo test multi30k wordnet clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/nmtkit data dates data/demo --overwrite
	$(BIN)/nmtkit preprocess recipes/demo-dates.yaml
	$(BIN)/nmtkit train recipes/demo-dates.yaml --overwrite
	$(BIN)/nmtkit translate --model $(DEMO)/model < data/demo/test.txt > $(DEMO)/test.hyp
	paste data/demo/test.txt $(DEMO)/test.hyp | head -n 5
	$(BIN)/nmtkit score --ref data/demo/test.iso $(DEMO)/test.hyp

# One pytest worker per core (at most 4: each holds its own TensorFlow, ~0.6 GB); a worker
# that runs out of tests takes some of another's.
test: install
	$(BIN)/python -m pytest -q --numprocesses auto --maxprocesses 4 --dist worksteal

# Multi30k into data/multi30k: downloaded, or copied with MULTI30K_FROM=folder.
multi30k: install
	$(BIN)/nmtkit data multi30k data/multi30k $(if $(MULTI30K_FROM),--from $(MULTI30K_FROM))

# WordNet for METEOR's synonym matches, into .venv: copied from Debian's dictionary files when
# they are installed (apt-get install wordnet-base wordnet-sense-index), else downloaded by nltk.
wordnet: install
	$(BIN)/nmtkit data wordnet --overwrite $(if $(wildcard /usr/share/wordnet/index.sense),--from /usr/share/wordnet)

clean:
	rm -rf runs data/demo
