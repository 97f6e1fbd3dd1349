# The Makefile is a table of contents: every recipe calls a script or a tool.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ENV := . .local/airflow.env &&
QUICK ?=

.PHONY: install services services-stop airflow-init demo test bench bench-backfill bench-jobs-page profile airflow constraints trigger-upload scraping-report clean

install: $(VENV)/.installed

# System packages first (mysqlclient compiles against libmariadb-dev), then the pinned venv.
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	scripts/services.sh packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.2
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	scripts/link_project.sh
	touch $@

# Regenerate the constraints file from a clean install of requirements-dev.txt (runtime + tools).
constraints:
	rm -rf /tmp/constraints-venv && python3 -m venv /tmp/constraints-venv
	/tmp/constraints-venv/bin/pip install -q --upgrade pip==25.2
	/tmp/constraints-venv/bin/pip install -q -r requirements-dev.txt
	/tmp/constraints-venv/bin/pip freeze > constraints.txt

services: install
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# Metadata DB, pools; safe to run again.
airflow-init: services
	$(ENV) scripts/airflow_init.sh

demo: airflow-init
	$(ENV) $(PY) scripts/demo.py

test: airflow-init
	$(ENV) $(VENV)/bin/pytest tests

bench: airflow-init
	$(ENV) $(PY) bench/run_bench.py $(if $(QUICK),--quick,)

# A real backfill of 1M-call days under a real scheduler, timed (checks the README's plan).
# DAYS=1 EXECUTOR=celery WORKERS=2: the same through the CeleryExecutor.
bench-backfill: airflow-init
	$(ENV) $(PY) bench/backfill_timing.py $(if $(DAYS),--days $(DAYS),) $(if $(filter celery,$(EXECUTOR)),--executor celery --workers $(WORKERS),)

# The jobs page's list/filter/search latency with 100,000 job rows (database scraping_bench).
bench-jobs-page: airflow-init
	$(ENV) $(PY) bench/jobs_page_bench.py

# Where one day's load spends its time: CPU per server, phases, pyinstrument (bench/profile.txt).
profile: airflow-init
	$(ENV) $(PY) bench/profile_load.py

# The Airflow UI and scheduler on the local services (Ctrl-C stops the whole process group).
# EXECUTOR=celery [WORKERS=2]: the CeleryExecutor with WORKERS separate workers (Redis broker).
EXECUTOR ?= local
WORKERS ?= 2
airflow: airflow-init
	$(ENV) $(if $(filter celery,$(EXECUTOR)),scripts/airflow_celery.sh $(WORKERS),scripts/airflow_standalone.sh)

# Upload a workbook as the web app would: make trigger-upload FILE=clientes.xlsx UPLOADER=ana
# (needs `make airflow` running: the run is created through the REST API).
trigger-upload: airflow-init
	$(ENV) $(PY) scripts/trigger_upload.py $(FILE) --uploader $(UPLOADER)

# What check_scraping_jobs used to print; options in ARGS, e.g. ARGS="--retry-failed --dry-run".
scraping-report: airflow-init
	$(ENV) $(PY) scripts/scraping_report.py $(ARGS)

clean: services-stop
	rm -rf .local
