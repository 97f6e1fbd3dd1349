#!/usr/bin/env bash
# Make include/ and plugins/ importable from the venv (tasks, tests and scripts alike) without
# packaging: a .pth file is read by every interpreter of the venv, including Airflow's workers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/${VENV:-.venv}"  # VENV=.venv-af2: the Airflow 2.11 leg
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n%s\n' "$ROOT/include" "$ROOT/plugins" >"$site/callcentre_project.pth"
