-- The analytics schema as it stood before versioned migrations: the DDL every run used to apply
-- (IF NOT EXISTS throughout), so a database created then upgrades by the same path as an empty one.

-- Every valid call, keyed by the source's call_id. Partition = (business_date, local_hour).
CREATE TABLE IF NOT EXISTS calls (
    call_id           bigint       PRIMARY KEY,
    business_date     date         NOT NULL,
    local_hour        smallint     NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    start_time        timestamptz  NOT NULL,
    end_time          timestamptz,
    start_local       timestamp    NOT NULL,  -- the IVR's wall-clock value, as read
    end_local         timestamp,
    duration          integer      NOT NULL,
    caller_number     varchar(32)  NOT NULL,
    dialed_number     varchar(32),
    ivr_path          varchar(255),
    disposition       varchar(16)  NOT NULL,
    queue_name        varchar(64),
    agent_id          integer,
    wait_seconds      integer,
    source_updated_at timestamp    NOT NULL,
    loaded_by_run_id  text         NOT NULL,
    loaded_at         timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS calls_partition_idx ON calls (business_date, local_hour);

-- Every invalid source row, with the rule it broke and its raw values (local wall-clock times).
CREATE TABLE IF NOT EXISTS call_rejects (
    call_id           bigint       PRIMARY KEY,
    business_date     date         NOT NULL,
    local_hour        smallint     NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    reject_reason     text         NOT NULL,
    start_time        timestamp    NOT NULL,
    end_time          timestamp,
    duration          integer,
    caller_number     varchar(32),
    dialed_number     varchar(32),
    ivr_path          varchar(255),
    disposition       varchar(16),
    queue_name        varchar(64),
    agent_id          integer,
    wait_seconds      integer,
    updated_at        timestamp,
    loaded_by_run_id  text         NOT NULL,
    loaded_at         timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS call_rejects_partition_idx ON call_rejects (business_date, local_hour);

-- The ledger: one row per attempt at one partition-hour (dry runs write nothing).
CREATE TABLE IF NOT EXISTS etl_batches (
    batch_id       bigserial    PRIMARY KEY,
    dag_id         text         NOT NULL,
    run_id         text         NOT NULL,
    try_number     integer      NOT NULL,
    business_date  date         NOT NULL,
    local_hour     smallint     NOT NULL,
    invalid_rows   text         NOT NULL,  -- quarantine | fail
    rows_read      integer,
    rows_loaded    integer,
    rows_rejected  integer,
    started_at     timestamptz  NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    duration_s     numeric(10, 3),
    outcome        text         NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'success', 'failed')),
    error          text
);
CREATE INDEX IF NOT EXISTS etl_batches_partition_idx ON etl_batches (business_date, local_hour, started_at);

-- One row per business day; source_calls = total_calls + rejected_calls always.
CREATE TABLE IF NOT EXISTS daily_metrics (
    metric_date        date          PRIMARY KEY,
    source_calls       integer       NOT NULL,
    total_calls        integer       NOT NULL,
    rejected_calls     integer       NOT NULL,
    answered_calls     integer       NOT NULL,
    abandoned_calls    integer       NOT NULL,
    transferred_calls  integer       NOT NULL,
    failed_calls       integer       NOT NULL,
    avg_duration_s     numeric(12, 2),
    avg_wait_s         numeric(12, 2),
    abandonment_rate   numeric(7, 4) NOT NULL,
    service_level_20s  numeric(7, 4),
    peak_hour          smallint,
    computed_by_run_id text          NOT NULL,
    computed_at        timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT daily_metrics_balance CHECK (source_calls = total_calls + rejected_calls)
);
