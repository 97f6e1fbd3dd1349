-- docker-compose.yaml only: the analytics PostgreSQL also holds the scraping job table.
-- (`analytics` itself is the container's POSTGRES_DB, owned by its POSTGRES_USER.)
CREATE DATABASE scraping OWNER etl;
