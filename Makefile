# Entry points of the testbed. `make run` reproduces every implemented
# experiment on the local testbed and writes the report; `make test` passes the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PLAYBOOK := $(BIN)/ansible-playbook
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Extra arguments for ansible-playbook, e.g. make run ARGS="-e scale=paper".
ARGS ?=
PYTEST_ARGS ?=

.PHONY: help setup venv system run test test-unit test-integration lint bench clean \
        testbed-up testbed-down cleanup inventory report

help:
	@echo "make run           set up, run every experiment at quick scale locally, write the report"
	@echo "make test          set up and pass all tests (unit, lint, integration)"
	@echo "make bench         compare our client and analysis with sockperf and plain Python"
	@echo "make lint          ruff, ansible-lint (production profile), syntax checks"
	@echo "make testbed-up    create the namespaces dut and loadgen; testbed-down removes them"
	@echo "make cleanup       stop servers and detach programs left by an interrupted run"
	@echo "make inventory MANIFEST=manifest.xml [CLOUDLAB_USER=name]   Cloudlab inventory"
	@echo "make report [RUN=results/<run-id>]   rebuild a report from raw results"
	@echo "make clean         remove build outputs (never results/)"

setup: venv system

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

system: venv
	$(PLAYBOOK) playbooks/setup_local.yml

run: setup
	$(PLAYBOOK) playbooks/site.yml $(ARGS)

RUN ?= results/latest
report: venv
	$(BIN)/python -m analysis report $(RUN)

test: setup
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/python -m pytest tests/unit tests/lint $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: venv
	$(BIN)/python -m pytest tests/lint $(PYTEST_ARGS)

bench: setup
	$(BIN)/python tests/bench/bench.py

testbed-up: venv
	$(PLAYBOOK) playbooks/testbed_up.yml

testbed-down: venv
	$(PLAYBOOK) playbooks/testbed_down.yml

cleanup: venv
	$(PLAYBOOK) playbooks/cleanup.yml

inventory: venv
	@test -n "$(MANIFEST)" || { echo "usage: make inventory MANIFEST=manifest.xml [CLOUDLAB_USER=name]" >&2; exit 2; }
	$(BIN)/python -m cloudlab.manifest $(MANIFEST) $(if $(CLOUDLAB_USER),--user $(CLOUDLAB_USER)) --output inventory/cloudlab/hosts.yml

clean:
	$(MAKE) -C bpf_src clean BUILD=$(CURDIR)/bpf_src/build
