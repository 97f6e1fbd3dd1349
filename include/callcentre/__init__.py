"""Call-centre data pipelines on Airflow: the code the DAGs in ``dags/`` call."""
