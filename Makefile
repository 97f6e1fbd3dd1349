# The Makefile is a table of contents: every recipe calls a script or a tool.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ENV := . .local/airflow.env &&
QUICK ?=
# Airflow version leg (docs/airflow-versions.md): empty = both legs for `make test`, the 3.3 leg
# for everything else; 2 = the Airflow 2.11 leg only (.venv-af2, .local/airflow-af2.env, its own
# AIRFLOW_HOME and metadata database on the same services); 3 = the 3.3 leg only.
AIRFLOW ?=
VENV2 := .venv-af2
ENV2 := . .local/airflow-af2.env &&

.PHONY: install services services-stop airflow-init airflow2-init demo test test-af3 test-af2 bench bench-backfill bench-history bench-pages profile airflow constraints trigger-upload scraping-report clean

install: $(VENV)/.installed $(if $(filter 2,$(AIRFLOW)),$(VENV2)/.installed,)

# System packages first (python3-venv, gcc, python3-dev, libmariadb-dev, pkg-config: mysqlclient
# compiles; as root or through sudo), then the pinned venv. Existing database servers instead of
# our own: CALLCENTRE_MARIADB_URL / CALLCENTRE_POSTGRES_URL (docs/deploy.md, "On one machine").
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	scripts/provision.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.2
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	scripts/link_project.sh
	touch $@

# The Airflow 2.11 leg's venv (the local stand-ins still run from .venv: `make services` builds it).
$(VENV2)/.installed: requirements-af2.txt constraints-af2.txt
	scripts/provision.sh
	test -x $(VENV2)/bin/python || python3 -m venv $(VENV2)
	$(VENV2)/bin/python -m pip install -q --upgrade pip==25.2
	$(VENV2)/bin/python -m pip install -q -r requirements-af2.txt -c constraints-af2.txt
	VENV=$(VENV2) scripts/link_project.sh
	touch $@

# Regenerate the constraints file from a clean install of requirements-dev.txt (runtime + tools);
# AIRFLOW=2: constraints-af2.txt from requirements-af2.txt.
REQS := $(if $(filter 2,$(AIRFLOW)),requirements-af2.txt,requirements-dev.txt)
CONSTRAINTS := $(if $(filter 2,$(AIRFLOW)),constraints-af2.txt,constraints.txt)
constraints:
	rm -rf /tmp/constraints-venv && python3 -m venv /tmp/constraints-venv
	/tmp/constraints-venv/bin/pip install -q --upgrade pip==25.2
	/tmp/constraints-venv/bin/pip install -q -r $(REQS)
	/tmp/constraints-venv/bin/pip freeze > $(CONSTRAINTS)

services: install
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# Metadata DB, pools; safe to run again.
airflow-init: services
	$(ENV) scripts/airflow_init.sh

# The 2.11 leg: .local/airflow-af2.env (the same services; AIRFLOW_HOME .local/airflow-af2,
# metadata database airflow_af2, REST API /api/v1 with basic auth), migrated, pools set.
airflow2-init: services $(VENV2)/.installed
	scripts/airflow2_env.sh
	$(ENV2) scripts/airflow_init.sh

demo: airflow-init
	$(ENV) $(PY) scripts/demo.py

# Both legs unless AIRFLOW=2 or AIRFLOW=3; the 2.11 leg selects its tests itself (tests/conftest.py).
# The slowest tests are listed at the end (the e2e suite has a time budget: docs/operations.md).
test: $(if $(filter 2,$(AIRFLOW)),,test-af3) $(if $(filter 3,$(AIRFLOW)),,test-af2)

test-af3: airflow-init
	$(ENV) $(VENV)/bin/pytest tests --durations=20

test-af2: airflow2-init
	$(ENV2) $(VENV2)/bin/pytest tests --durations=10

bench: airflow-init
	$(ENV) $(PY) bench/run_bench.py $(if $(QUICK),--quick,)

# A real backfill of 1M-call days under a real scheduler, timed (checks the README's plan).
# DAYS=1 EXECUTOR=celery WORKERS=2: the same through the CeleryExecutor.
bench-backfill: airflow-init
	$(ENV) $(PY) bench/backfill_timing.py $(if $(DAYS),--days $(DAYS),) $(if $(filter celery,$(EXECUTOR)),--executor celery --workers $(WORKERS),)

# The IVR over months of history (expected ≈ 20-30 min at the default sizes, most of it building the
# 60 days of history, kept for the next run; QUICK=1: small sizes, results-quick.json, ≈ 3 min):
# the open-calls and drift checks' MariaDB reads on a 10M-call day, a 1M-call day loaded into an
# empty target and into one holding 60 days, the drift check over 7 days. Knobs: CALLS=, HISTORY_DAYS=,
# BIG_DAY=, DRIFT_DAYS=, REPEAT= (bench/ivr_history_bench.py --help).
bench-history: airflow-init
	$(ENV) $(PY) bench/ivr_history_bench.py $(if $(QUICK),--quick,) $(if $(CALLS),--calls $(CALLS),) $(if $(HISTORY_DAYS),--history-days $(HISTORY_DAYS),) $(if $(BIG_DAY),--big-day $(BIG_DAY),) $(if $(DRIFT_DAYS),--drift-days $(DRIFT_DAYS),) $(if $(REPEAT),--repeat $(REPEAT),)

# The IVR days page over five years of days and the scraping jobs page over 100,000 jobs, through
# Airflow's real app (bench/pages_results.json; ≈ 3 min the first time). DAYS=, JOBS=; QUICK=1: small.
bench-pages: airflow-init
	$(ENV) $(PY) bench/pages_bench.py $(if $(QUICK),--quick,) $(if $(DAYS),--days $(DAYS),) $(if $(JOBS),--jobs $(JOBS),)

# Where one day's load spends its time: CPU per server, phases, pyinstrument (bench/profile.txt).
profile: airflow-init
	$(ENV) $(PY) bench/profile_load.py

# The Airflow UI and scheduler on the local services (Ctrl-C stops the whole process group).
# EXECUTOR=celery [WORKERS=2]: the CeleryExecutor with WORKERS separate workers (Redis broker).
EXECUTOR ?= local
WORKERS ?= 2
# AIRFLOW=2: `airflow standalone` of the 2.11 leg (scheduler, triggerer, webserver).
airflow: $(if $(filter 2,$(AIRFLOW)),airflow2-init,airflow-init)
	$(if $(filter 2,$(AIRFLOW)),$(ENV2),$(ENV)) $(if $(filter celery,$(EXECUTOR)),scripts/airflow_celery.sh $(WORKERS),scripts/airflow_standalone.sh)

# Upload a workbook as the web app would: make trigger-upload FILE=clientes.xlsx UPLOADER=ana
# (needs `make airflow` running: the run is created through the REST API).
trigger-upload: airflow-init
	$(ENV) $(PY) scripts/trigger_upload.py $(FILE) --uploader $(UPLOADER)

# What check_scraping_jobs used to print; options in ARGS, e.g. ARGS="--retry-failed --dry-run".
scraping-report: airflow-init
	$(ENV) $(PY) scripts/scraping_report.py $(ARGS)

clean:
	scripts/services.sh purge
