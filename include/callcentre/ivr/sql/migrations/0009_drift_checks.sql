-- What each drift check found, per day it compared and per hour that differed, so the IVR days page
-- can show a day whose latest check found drift that nothing has repaired yet. One row per (day,
-- check run): a retried check rewrites its own rows, it never adds a second record.
CREATE TABLE IF NOT EXISTS drift_checks (
    business_date date        NOT NULL,
    run_id        text        NOT NULL,
    checked_at    timestamptz NOT NULL DEFAULT now(),
    drifted_hours smallint[]  NOT NULL DEFAULT '{}',  -- empty: the day matched its source
    repaired_at   timestamptz,                        -- its hours reloaded and the day passed its gate
    repair_error  text,                               -- or why the repaired day failed its gate
    PRIMARY KEY (business_date, run_id)
);

-- Checksums are sums of 60-bit values over an hour's rows: wider than bigint.
CREATE TABLE IF NOT EXISTS drift_hours (
    business_date   date        NOT NULL,
    run_id          text        NOT NULL,
    local_hour      smallint    NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    source_rows     bigint      NOT NULL,
    source_checksum numeric     NOT NULL,
    target_rows     bigint      NOT NULL,
    target_checksum numeric     NOT NULL,
    reloaded_at     timestamptz,
    PRIMARY KEY (business_date, run_id, local_hour),
    FOREIGN KEY (business_date, run_id) REFERENCES drift_checks ON DELETE CASCADE
);
