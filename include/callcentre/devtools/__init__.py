"""Tools for running the project's own Airflow on this machine (the benchmarks and the e2e tests)."""
