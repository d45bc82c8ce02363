# tinyrt: `make setup` installs what is missing, `make test` runs the suite, `make demo` deploys
# the example model to the emulated Cortex-M4. All three are idempotent.
PY      := .venv/bin/python
APT_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS    ?= 2

.PHONY: setup system-deps venv test test-fast demo bench clean

setup: system-deps venv

system-deps:
	@missing=""; \
	command -v arm-none-eabi-gcc >/dev/null || missing="$$missing gcc-arm-none-eabi libnewlib-arm-none-eabi"; \
	command -v qemu-system-arm >/dev/null || missing="$$missing qemu-system-arm"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "system packages: present"; fi

venv: .venv/.installed

.venv/.installed: pyproject.toml
	@[ -x $(PY) ] || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

test: setup
	$(PY) -m pytest -q -n $(JOBS) -p no:cacheprovider

test-fast: venv
	$(PY) -m pytest -q -x -n $(JOBS) -p no:cacheprovider -m "not qemu"

demo: setup
	.venv/bin/tinyrt demo

bench: setup
	.venv/bin/tinyrt bench memory

clean:
	rm -rf build out .pytest_cache
