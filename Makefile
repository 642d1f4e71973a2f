# nmtkit: `make demo` runs the whole pipeline on a generated task; `make test` runs the tests.
# Both build the virtual environment first when it is missing or older than pyproject.toml or
# requirements.lock, the versions CI tested (`make lock` refreshes them).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := runs/demo-dates
LOCK := requirements.lock

.PHONY: install lock demo test multi30k wordnet clean

install: $(VENV)/.installed

# The lock pins every package, pip included, to what `make test` passed with; as constraints (-c)
# rather than requirements, so nmtkit itself is still installed editable from pyproject.toml.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

# Refresh the lock: the newest releases that pyproject.toml's ranges allow, resolved by uv
# (installed into .venv) for .venv's Python and this platform. Then `make test`, which reinstalls
# from the new lock, and commit requirements.lock. Written to a .tmp first: a failed resolution
# leaves the old lock whole.
lock:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade uv
	{ echo '# Every package `make install` puts in .venv (nmtkit with its dev extra, and pip), pinned' && \
	  $(BIN)/python -c 'import platform as p; print("# to the versions `make test` passed with, for Python %s on %s %s." % (p.python_version(), p.system(), p.machine()))' && \
	  echo '# Written by `make lock` (uv pip compile, within the ranges in pyproject.toml);' && \
	  echo '# after a refresh, run `make test`, then commit this file.' && \
	  echo pip | $(BIN)/uv pip compile --quiet --upgrade --no-header --python $(BIN)/python \
	    --extra dev pyproject.toml -; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)

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
