# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv and install what they need themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint format typecheck pytest bench bench-quick bench-compare reliability reliability-quick clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Translations (docs/translations.md): the .po catalogs are the source; the .mo files
# Django reads are compiled from them here and by the build step (pip install; hallboard.i18n.build).
PO := $(wildcard src/hallboard/locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)

$(MO): %.mo: %.po $(STAMP)
	$(BIN)/python -m hallboard.i18n.catalogs
	touch $(MO)

# After adding or changing words in the code: update the catalogs (needs GNU gettext's
# xgettext: apt-get install gettext), then translate what is new and run `make`.
MAKEMESSAGES := cd src/hallboard && DJANGO_SETTINGS_MODULE=hallboard.settings \
	../../$(BIN)/django-admin makemessages --all --add-location file --no-obsolete
messages: $(STAMP)
	$(MAKEMESSAGES) -d django
	$(MAKEMESSAGES) -d djangojs
	$(BIN)/python -m hallboard.i18n.catalogs
	$(BIN)/python -m hallboard.i18n.catalogs --check  # lists what is left to translate

demo: $(STAMP) $(MO)
	$(BIN)/hallboard demo

test: check pytest

check: $(STAMP) $(MO) lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check src tests tools bench reliability
	$(BIN)/ruff format --check src tests tools bench reliability

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict src/hallboard/realtime/core  # the pure core: fully typed
	$(BIN)/mypy reliability

# The whole suite, with branch coverage (coverage.py via pytest-cov; floor: fail_under
# in pyproject.toml). Run single test files with $(BIN)/pytest: no coverage there.
pytest: $(STAMP) $(MO)
	$(BIN)/pytest --cov --cov-branch --cov-report=term-missing:skip-covered

format: $(STAMP)
	$(BIN)/ruff format src tests tools bench reliability
	$(BIN)/ruff check --fix src tests tools bench reliability

# Benchmarks against the seeds' stack (docs/benchmarks.md). Installs the `bench` extra.
# A full run takes long (see docs/benchmarks.md); `make bench-quick` is a small pass.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Did a change make a figure worse? This tree against BEFORE (a git ref), in turns, on this
# machine: docs/benchmark-comparison.md (bench/compare.sh; about 15 minutes at the defaults).
bench-compare: $(STAMP)
	bench/compare.sh $(BEFORE) $(or $(SIZES),1000,10000) $(or $(RUNS),3)

bench-quick: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py --quick --json var/benchmarks-quick.json --markdown var/benchmarks-quick.md

# Faults, fuzzing and a soak on this machine (docs/reliability.md), a few minutes, bounded.
# Installs the `reliability` extra (schemathesis). Uses the PostgreSQL at 127.0.0.1:5432 in
# databases of its own (hb_faults*) when it answers, else SQLite; Redis is a throwaway.
reliability: $(STAMP) $(MO)
	$(BIN)/pip install --quiet -e '.[test,reliability]'
	$(BIN)/python reliability/run.py $(RELIABILITY_ARGS)

reliability-quick: $(STAMP) $(MO)
	$(BIN)/pip install --quiet -e '.[test,reliability]'
	$(BIN)/python reliability/run.py --quick --json var/reliability-quick.json --markdown var/reliability-quick.md

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
