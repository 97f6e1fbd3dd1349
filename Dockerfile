# syntax=docker/dockerfile:1
# The project's Airflow image: the official image extended the way its docs prescribe (Airflow
# pinned in the same pip command, the image's own constraints), our runtime requirements, our code.
#   docker build -t callcentre-airflow:3.3.2 .    (docker-compose.yaml builds it too)
# tests/deploy/test_image.py replays the pip step in a clean virtualenv and runs `pip check`.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11

# --- build: wheels for everything requirements.txt adds; compilers live here only ----------------
FROM ${AIRFLOW_IMAGE} AS build
USER root
# mysqlclient compiles against the MariaDB client library when no wheel fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libmariadb-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root requirements.txt deploy/image/constraints.py /opt/airflow/requirements/
RUN python /opt/airflow/requirements/constraints.py "${HOME}/constraints.txt" /opt/airflow/requirements/requirements.txt \
      >/opt/airflow/requirements/constraints-image.txt \
 && pip wheel --no-cache-dir --wheel-dir /opt/airflow/wheels "apache-airflow==${AIRFLOW_VERSION}" \
      -r /opt/airflow/requirements/requirements.txt -c /opt/airflow/requirements/constraints-image.txt

# --- runtime: no compiler; installs from the wheels only, then checks the result ---------------
FROM ${AIRFLOW_IMAGE}
USER root
# The MariaDB client library mysqlclient links against (runtime package, no headers).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root requirements.txt /opt/airflow/requirements/
COPY --from=build /opt/airflow/requirements/constraints-image.txt /opt/airflow/requirements/
# Installed at build time, never at container start (no _PIP_ADDITIONAL_REQUIREMENTS).
RUN --mount=type=bind,from=build,source=/opt/airflow/wheels,target=/opt/airflow/wheels \
    pip install --no-cache-dir --no-index --find-links /opt/airflow/wheels "apache-airflow==${AIRFLOW_VERSION}" \
      -r /opt/airflow/requirements/requirements.txt -c /opt/airflow/requirements/constraints-image.txt \
 && pip check

# The code, so the image runs on its own (Helm, any host); compose mounts the working tree over
# dags/, include/ and plugins/ for development.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root deploy/pools.json /opt/airflow/deploy/pools.json
COPY --chown=airflow:root scripts/trigger_upload.py scripts/scraping_report.py /opt/airflow/scripts/
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins
