-- The IVR's source table (MariaDB), as the contract describes it. The IVR owns it in production;
-- the demo, tests and benchmark create it with this statement.
CREATE TABLE IF NOT EXISTS calls (
    call_id        BIGINT UNSIGNED PRIMARY KEY,
    start_time     DATETIME     NOT NULL,
    end_time       DATETIME     NULL,
    duration       INT          NULL,
    caller_number  VARCHAR(32),
    dialed_number  VARCHAR(32),
    ivr_path       VARCHAR(255) NULL,
    disposition    VARCHAR(16),
    queue_name     VARCHAR(64)  NULL,
    agent_id       INT          NULL,
    wait_seconds   INT          NULL,
    updated_at     DATETIME     NOT NULL,
    KEY calls_start_time_idx (start_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
