# Smart Gate. `make demo` and `make test` do all set-up on a fresh machine (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
SAM := .tools/sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# doctor runs before anything is installed: the system Python and the standard library only.

.PHONY: doctor setup demo test test-unit lint format fault-test bench bench-alerts bench-api bench-rules bench-vision bench-face up down status schemas build deploy components clean

doctor:
	@PYTHONPATH=infra $(or $(PYTHON),python3) -m smartgate_infra.doctor

setup:
	@infra/bootstrap.sh all

demo: setup
	$(VENV)/bin/smartgate demo

test:
	@infra/bootstrap.sh test
	$(PY) -m pytest

test-unit:
	@infra/bootstrap.sh python
	$(PY) -m pytest tests/unit

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/core/smartgate edge_greengrass/smartgate_edge infra/smartgate_infra
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION) -t template.yaml

format:
	@infra/bootstrap.sh python
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(VENV)/bin/smartgate bench --trucks $(or $(TRUCKS),200)

fault-test: setup
	$(PY) -m smartgate_infra.fault_test run --detections $(or $(DETECTIONS),3000)

bench-alerts: setup
	$(VENV)/bin/smartgate bench-alerts --alerts $(or $(ALERTS),100)

# A simulated day of exchange with the partner gate simulator, faults, then a replay; the last line is
# sent=… received=… dlq=… replay_identical=…  (STATE_DIR: another local stack's folder than .smartgate/)
.PHONY: partner-check
partner-check: setup
	$(VENV)/bin/smartgate $(if $(STATE_DIR),--state-dir $(STATE_DIR)) partner-check --trucks $(or $(TRUCKS),10)

# The gate-day twin in model mode (SCENARIO=kimthanh2|mongcai|file.yaml, TRUCKS=…, WHAT_IF="field=value;…");
# the last line is trucks=… wall_s=… dwell_p50_min=… dwell_p95_min=… usd_per_crossing=…
.PHONY: twin
twin:
	@infra/bootstrap.sh python
	$(VENV)/bin/smartgate twin --scenario $(or $(SCENARIO),kimthanh2) $(if $(TRUCKS),--trucks $(TRUCKS)) $(if $(WHAT_IF),--what-if "$(WHAT_IF)")

bench-api: setup
	$(VENV)/bin/smartgate bench-api --clients $(or $(CLIENTS),50)

bench-rules:
	@infra/bootstrap.sh python
	$(PY) -m smartgate_infra.bench_rules

bench-vision:
	@infra/bootstrap.sh python
	$(PY) -m smartgate_edge.vision.bench --data $(or $(DATA),../shared/data/plates/dev)

# Driver face verification on labelled pairs (DATA=folder with labels.csv img_a,img_b,same; THRESHOLD= optional);
# the last line is acc=… far=… frr=… auc=… p50_ms=… n=…
bench-face:
	@infra/bootstrap.sh python
	$(PY) -m smartgate_edge.vision.face_bench --data $(or $(DATA),../shared/data/faces/dev) $(if $(THRESHOLD),--threshold $(THRESHOLD))

up: setup
	$(VENV)/bin/smartgate up

down:
	@if [ -x $(VENV)/bin/smartgate ]; then $(VENV)/bin/smartgate down; fi

status:
	$(VENV)/bin/smartgate status

schemas:
	@infra/bootstrap.sh python
	$(PY) -m smartgate.schemas.export
	$(PY) -m smartgate.partner.asyncapi

components:
	@infra/bootstrap.sh python
	$(PY) -m smartgate_infra.components

build: setup
	$(SAM) build --template template.yaml

deploy: build
	$(SAM) deploy --guided

# The web apps onto the deployed stack (its bucket, behind CloudFront); STACK as samconfig.toml names it.
STACK ?= smartgate-dev
.PHONY: deploy-web
deploy-web: setup
	$(VENV)/bin/smartgate publish-web --stack-name $(STACK) --region $(AWS_DEFAULT_REGION)

clean: down
	rm -rf .aws-sam .smartgate greengrass-build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path "./.venv/*" -not -path "./.tools/*" -exec rm -rf {} +
