-- The scraping schema as it stood before versioned migrations: the DDL every entry point used to
-- apply (IF NOT EXISTS throughout), so a database created then upgrades by the same path.
CREATE TABLE IF NOT EXISTS jobs (
    id                bigserial PRIMARY KEY,
    file_name         text NOT NULL,
    upload_path       text NOT NULL,
    content_sha256    char(64) NOT NULL,
    uploader          text NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending','processing','completed','failed','timeout','retrying')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    completed_at      timestamptz,
    retry_count       integer NOT NULL DEFAULT 0,
    max_retries       integer NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    last_error        text,
    total_numbers     integer NOT NULL DEFAULT 0,
    processed_numbers integer NOT NULL DEFAULT 0,
    rejected_rows     integer NOT NULL DEFAULT 0,
    timeout_minutes   numeric(8,2) NOT NULL DEFAULT 30 CHECK (timeout_minutes > 0),
    batch_size        integer NOT NULL DEFAULT 250,
    dag_id            text NOT NULL DEFAULT 'scraping_upload',
    airflow_run_id    text NOT NULL,
    run_clear_number  integer NOT NULL DEFAULT 0,
    results_file      text,
    rejected          jsonb NOT NULL DEFAULT '[]'::jsonb,
    alerted_at        timestamptz,
    CONSTRAINT jobs_content_uq UNIQUE (content_sha256),
    CONSTRAINT jobs_run_uq UNIQUE (dag_id, airflow_run_id)
);
CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status, started_at);
CREATE TABLE IF NOT EXISTS batches (
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    batch_no      integer NOT NULL,
    reference     text NOT NULL UNIQUE,
    numbers       jsonb NOT NULL,
    lookup_id     text,
    submitted_at  timestamptz,
    status        text NOT NULL DEFAULT 'new',
    results       jsonb,
    finished_at   timestamptz,
    PRIMARY KEY (job_id, batch_no)
);
-- The run's clear_number when the API failed the batch: only a later clear submits it again.
ALTER TABLE batches ADD COLUMN IF NOT EXISTS clear_number integer NOT NULL DEFAULT 0;
-- 'retryable' (API down, batch failed by the API, timeout) or 'permanent' (bad workbook, bad conf).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS failure_kind text;
-- Airflow task retries in the current run (retry_count counts job-level retries only).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS task_retries integer NOT NULL DEFAULT 0;
-- Where the numbers were read: sheet, column, header row (the results workbook says it too).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS source_sheet text;
-- Transient API errors of the batch since the run's last clear: its budget, not Airflow's try number
-- (a try burnt by a scheduler race, apache/airflow#71172, costs nothing).
ALTER TABLE batches ADD COLUMN IF NOT EXISTS api_errors integer NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS api_errors_clear integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS jobs_created_idx ON jobs (created_at);
