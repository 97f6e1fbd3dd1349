-- docker-compose.yaml only: the analytics and scraping databases next to Airflow's own.
CREATE DATABASE analytics OWNER etl;
CREATE DATABASE scraping OWNER etl;
