-- Versions of a call are ordered by when a load read the source, not by the source's updated_at
-- (which can go backwards: a restore from backup, a writer with a skewed clock). Every attempt at
-- an hour takes the next read_seq before it opens its MariaDB snapshot, under the hour's lock;
-- hour_reads keeps the read_seq of the last committed load of each hour. Every row an hour holds
-- was written or confirmed by that load, so it is the version of each of them (load.py).
CREATE SEQUENCE IF NOT EXISTS read_seq;
CREATE TABLE IF NOT EXISTS hour_reads (
    business_date date     NOT NULL,
    local_hour    smallint NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    read_seq      bigint   NOT NULL,
    read_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (business_date, local_hour)
);
