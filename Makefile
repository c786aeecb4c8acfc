# One target per user intent. Everything installs from this repository's own files into .venv and
# node_modules; nothing is needed on the machine beyond python3 (3.11+) and make.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= dev
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
# The pinned CLI from package-lock.json, started directly (npx would add npm's own start-up to every call).
CDK := $(CURDIR)/node_modules/.bin/cdk
STACK = $(ENV)/*
# Extra arguments for the CDK CLI, for pipelines: make deploy ENV=prod CDK_ARGS="--require-approval never"
# or make destroy ENV=dev CDK_ARGS=--force (no terminal to confirm on).
CDK_ARGS ?=
# deploy asks before broadening IAM unless CDK_ARGS chooses the approval level itself.
APPROVAL = $(if $(findstring --require-approval,$(CDK_ARGS)),,--require-approval broadening)

.PHONY: setup synth test lint bench rehearse rehearse-teardown diff plan-diff deploy deploy-pipeline destroy run teardown snapshots clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# '**' selects the Stages' stacks (cdk synth selects only top-level stacks; there are none here).
synth: setup  ## Synthesize every environment into cdk.out (offline, no credentials); cdk-nag runs here too
	$(CDK) synth --quiet --no-notices --output cdk.out '**'

# Two worker processes (the machines this runs on have two cores), each taking whole test files so
# a module's rehearsal fixture runs once and no other file runs while it is alive; TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: setup  ## The whole offline suite
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py stacks personalize_poc lambdas/poc_steps

snapshots: setup  ## Re-record the template snapshots after an intended change; review the diff
	UPDATE_SNAPSHOTS=1 $(PY) -m pytest tests/test_snapshots.py -q

bench: setup  ## Write benchmark figures to bench/out/ (BENCH_ARGS=--keep-data keeps the 1.1 GB validator input)
	$(PY) bench/bench_synth.py
	$(PY) bench/bench_orchestration.py
	$(PY) bench/bench_validator.py $(BENCH_ARGS)

rehearse: setup  ## Offline end-to-end run of ENV's own POC (POC=config/poc-ecommerce.yaml: another definition with ENV's settings; moto, Lambdas in-process, Personalize double, simulated time); DATA=dir: your files, else data generated to fit its schemas
	$(PY) -m tests.rehearsal --env $(ENV) $(if $(POC),--poc '$(POC)') $(if $(DATA),--data '$(DATA)')

rehearse-teardown: setup  ## The offline rehearsal (ENV, DATA as for rehearse), then the teardown workflow: ends with nothing left
	$(PY) -m tests.rehearsal --env $(ENV) $(if $(POC),--poc '$(POC)') $(if $(DATA),--data '$(DATA)') --teardown

run: setup  ## Needs AWS credentials: start the POC workflow and follow it
	$(VENV)/bin/personalize-poc run start $(ENV)
	$(VENV)/bin/personalize-poc run status $(ENV) --watch

teardown: setup  ## Needs AWS credentials: delete every Personalize resource of the POC (the stack stays)
	$(VENV)/bin/personalize-poc run start $(ENV) --workflow teardown
	$(VENV)/bin/personalize-poc run status $(ENV) --workflow teardown --watch

diff: setup  ## Needs AWS credentials for the target account
	$(CDK) diff --no-notices $(CDK_ARGS) '$(STACK)'

# The working tree synthesizes here, so cdk.out keeps the last `make synth` to compare with.
PLAN_DIFF_OUT := .plan-diff.out
plan-diff: setup  ## ENV's POC definition, field by field, and the resources it changes: working tree against the deployed stack (with credentials) or the last `make synth` (cdk.out, offline; PLAN_DIFF_ARGS=--offline forces it)
	rm -rf $(PLAN_DIFF_OUT)
	CDK_OUTDIR=$(PLAN_DIFF_OUT) $(PY) app.py
	$(PY) -m personalize_poc.plan_diff $(ENV) --new-assembly $(PLAN_DIFF_OUT) --old-assembly cdk.out $(PLAN_DIFF_ARGS)

deploy: setup  ## Needs AWS credentials; deploys one environment
	$(CDK) deploy --no-notices $(APPROVAL) $(CDK_ARGS) '$(STACK)'

deploy-pipeline: setup  ## Needs AWS credentials for the tooling account; deploys the pipeline of config/environments.yaml's pipeline: section once (then it updates itself)
	$(CDK) deploy --no-notices $(APPROVAL) $(CDK_ARGS) Pipeline

destroy: setup  ## Needs AWS credentials; removes one environment's stack
	$(CDK) destroy --no-notices $(CDK_ARGS) '$(STACK)'

clean:
	rm -rf cdk.out .plan-diff.out .build .pytest_cache .mypy_cache .ruff_cache bench/data
