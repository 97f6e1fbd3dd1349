-- What the IVR alerts remember (include/callcentre/ivr/alert_log.py, task_failures.py). Until
-- this migration the callbacks created these tables themselves (IF NOT EXISTS): on such a
-- database this finds them, and adds only what is missing.

-- One row per task instance that failed for good (retries exhausted, or a permanent error), written
-- by the task's on_failure_callback; the run's one Slack message is built from these rows.
-- run_attempt is the run's clear number: a cleared run that fails again is a new failure.
CREATE TABLE IF NOT EXISTS task_failures (
    dag_id        text        NOT NULL,
    run_id        text        NOT NULL,
    run_attempt   integer     NOT NULL,
    task_id       text        NOT NULL,
    map_index     integer     NOT NULL,
    business_date date,
    local_hour    smallint,
    try_number    integer     NOT NULL,
    error         text        NOT NULL,
    log_url       text,
    failed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id, run_attempt, task_id, map_index)
);

-- One row per Slack alert, written pending and marked sent in the transaction that posts it
-- (callcentre.common.alerting.Outbox); a Slack outage leaves it pending for the deadline watcher.
-- The unique key makes each alert go out once however often its callback fires: kind run_failed
-- is keyed by run id and attempt, deadline_missed by the day.
CREATE TABLE IF NOT EXISTS alert_log (
    alert_id      bigserial   PRIMARY KEY,
    dag_id        text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('run_failed', 'deadline_missed')),
    alert_key     text        NOT NULL,
    business_date date,
    run_id        text,
    message       text        NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_log_once UNIQUE (dag_id, kind, alert_key)
);
CREATE INDEX IF NOT EXISTS alert_log_day_idx ON alert_log (dag_id, business_date);
-- Rows from before the outbox were all sent.
ALTER TABLE alert_log ADD COLUMN IF NOT EXISTS pending boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS alert_log_pending_idx ON alert_log (sent_at) WHERE pending;
