# Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# The CPU build of torch that lies on this machine's disk; a bare `torch` requirement
# would pull a multi-GB CUDA build, so it is installed first and pinned.
TORCH_SPEC ?= torch==2.13.0
PROTO_SRC := proto/scenesearch/v1/scenesearch.proto

# Strict editable mode builds a tree of links (so mypy and tools see scenesearch.*); a module
# added or removed needs a relink, which is cheap and happens whenever a module changes.
MODULES := $(shell find proto server client -name '*.py' -not -path '*/__pycache__/*')
# The web UI's templates and static files are package data, linked one by one as well.
WEB_ASSETS := $(shell find client/web/templates client/web/static -type f 2>/dev/null)

LINTED := server client tests bench scripts proto/scenesearch/contract.py

.PHONY: system-packages install proto proto-check lint test test-fast demo serve bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[server,dev,milvus]" --config-settings editable_mode=strict
	touch $@

$(VENV)/.linked: $(VENV)/.installed $(MODULES) $(WEB_ASSETS)
	$(PIP) install -q --no-deps --no-build-isolation -e . --config-settings editable_mode=strict
	touch $@

# Debian packages the tests need (chromium, iproute2); checked on every install, installed once.
system-packages:
	scripts/install_system_packages.sh

install: system-packages $(VENV)/.linked

proto: install
	$(PY) -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto \
		--grpc_python_out=proto $(PROTO_SRC)

# Fails when the committed stubs differ from what protoc generates now.
proto-check: install
	$(PY) -m scripts.check_proto

lint: install
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy -p scenesearch.server -p scenesearch.client -m scenesearch.contract
	$(VENV)/bin/mypy tests bench scripts

# Two workers: much of the suite waits on servers, subprocesses and a browser, so two
# overlap well even on 2 cores; a module stays on one worker (tests/conftest.py).
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadgroup

test: install
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

demo: install
	$(PY) -m scripts.demo

# The gRPC server and the web UI together; prints the URL. Extra server flags:
# make serve SERVE_ARGS="--media-root ~/Videos"; the UI's address: WEB_LISTEN=host:port.
SERVE_ARGS ?=
WEB_LISTEN ?= 127.0.0.1:8080
serve: install
	WEB_LISTEN=$(WEB_LISTEN) $(PY) -m scripts.serve $(SERVE_ARGS)

bench: install
	$(PY) -m bench.ingest
	$(PY) -m bench.index

clean:
	rm -rf $(VENV) build .demo .mypy_cache .ruff_cache .pytest_cache
