# The project's Airflow image: the official image plus our pinned runtime requirements and code.
# Build: docker build -t callcentre-airflow:3.3.2 .   (docker-compose.yaml builds it too)
FROM apache/airflow:3.3.2-python3.11

# mysqlclient (providers-mysql) compiles against the MariaDB client library.
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb-dev pkg-config build-essential \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# Installed at build time, never at container start (no _PIP_ADDITIONAL_REQUIREMENTS).
COPY --chown=airflow:root requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/requirements.txt \
    -c /opt/airflow/requirements/constraints.txt

# The code, so the image runs on its own (Helm, systemd hosts); compose mounts the working tree
# over these for development.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root scripts/trigger_upload.py scripts/scraping_report.py /opt/airflow/scripts/
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins
