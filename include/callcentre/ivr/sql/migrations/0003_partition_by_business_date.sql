-- calls and call_rejects partitioned by business date, one partition per month (created ahead by
-- the loads, ensure_month_partitions), so an hour's replace touches one partition and old months
-- can be detached and dropped (drop_partitions_before, IVR_RETENTION_DAYS). Every row is copied.
--
-- A partitioned table cannot keep call_id unique on its own (its keys must hold the business
-- date): call_keys does, one row per stored call with where it sits. Statement triggers keep it
-- equal to the two tables' rows, so a call is stored once across every day and both tables, and a
-- load finds a call wherever it sits with one index probe (load.py).

CREATE TABLE call_keys (
    call_id       bigint   PRIMARY KEY,
    business_date date     NOT NULL,
    local_hour    smallint NOT NULL
);
CREATE INDEX call_keys_day_idx ON call_keys (business_date);

CREATE FUNCTION call_keys_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO call_keys (call_id, business_date, local_hour) SELECT call_id, business_date, local_hour FROM new_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION call_keys_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM call_keys k USING old_rows o WHERE k.call_id = o.call_id;
    RETURN NULL;
END $$;
CREATE FUNCTION call_keys_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM call_keys k USING old_rows o WHERE k.call_id = o.call_id;
    INSERT INTO call_keys (call_id, business_date, local_hour) SELECT call_id, business_date, local_hour FROM new_rows;
    RETURN NULL;
END $$;

-- The month partitions of ``day`` and of the month after it (created ahead), when missing: a
-- catalog read when they exist, DDL once a month.
CREATE FUNCTION ensure_month_partitions(day date) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    month date;
    parent text;
    part text;
BEGIN
    FOREACH month IN ARRAY ARRAY[date_trunc('month', day)::date, (date_trunc('month', day) + interval '1 month')::date] LOOP
        FOREACH parent IN ARRAY ARRAY['calls', 'call_rejects'] LOOP
            part := parent || '_p' || to_char(month, 'YYYY_MM');
            IF to_regclass(part) IS NULL THEN
                PERFORM pg_advisory_xact_lock(hashtext('analytics partitions'));
                EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, parent, month, (month + interval '1 month')::date);
            END IF;
        END LOOP;
    END LOOP;
END $$;

-- Detach and drop every month that ends on or before ``cutoff``, with its keys and read records;
-- the names of the partitions dropped.
CREATE FUNCTION drop_partitions_before(cutoff date) RETURNS SETOF text LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    p record;
    month_end date;
BEGIN
    FOR p IN
        SELECT c.relname AS part, parent.relname AS parent
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
        WHERE parent.oid IN (to_regclass('calls'), to_regclass('call_rejects'))
        ORDER BY 1
    LOOP
        month_end := (to_date(right(p.part, 7), 'YYYY_MM') + interval '1 month')::date;
        IF month_end <= cutoff THEN
            EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', p.parent, p.part);
            EXECUTE format('DROP TABLE %I', p.part);
            DELETE FROM call_keys WHERE business_date < month_end;
            DELETE FROM hour_reads WHERE business_date < month_end;
            RETURN NEXT p.part;
        END IF;
    END LOOP;
END $$;

-- The unpartitioned tables step aside (their index names are taken by the new ones).
ALTER TABLE calls RENAME TO calls_unpartitioned;
ALTER INDEX calls_pkey RENAME TO calls_unpartitioned_pkey;
ALTER INDEX calls_partition_idx RENAME TO calls_unpartitioned_idx;
ALTER TABLE call_rejects RENAME TO call_rejects_unpartitioned;
ALTER INDEX call_rejects_pkey RENAME TO call_rejects_unpartitioned_pkey;
ALTER INDEX call_rejects_partition_idx RENAME TO call_rejects_unpartitioned_idx;

CREATE TABLE calls (LIKE calls_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                    PRIMARY KEY (business_date, call_id)) PARTITION BY RANGE (business_date);
CREATE INDEX calls_hour_idx ON calls (business_date, local_hour);
CREATE TABLE call_rejects (LIKE call_rejects_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                           PRIMARY KEY (business_date, call_id)) PARTITION BY RANGE (business_date);
CREATE INDEX call_rejects_hour_idx ON call_rejects (business_date, local_hour);

CREATE TRIGGER calls_keys_inserted AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_inserted();
CREATE TRIGGER calls_keys_deleted AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_deleted();
CREATE TRIGGER calls_keys_updated AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_updated();
CREATE TRIGGER call_rejects_keys_inserted AFTER INSERT ON call_rejects REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_inserted();
CREATE TRIGGER call_rejects_keys_deleted AFTER DELETE ON call_rejects REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_deleted();
CREATE TRIGGER call_rejects_keys_updated AFTER UPDATE ON call_rejects REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_updated();

DO $$
DECLARE
    month date;
BEGIN
    FOR month IN SELECT DISTINCT date_trunc('month', business_date)::date FROM calls_unpartitioned
                 UNION SELECT DISTINCT date_trunc('month', business_date)::date FROM call_rejects_unpartitioned
    LOOP
        PERFORM ensure_month_partitions(month);
    END LOOP;
END $$;
INSERT INTO calls SELECT * FROM calls_unpartitioned;
INSERT INTO call_rejects SELECT * FROM call_rejects_unpartitioned;
DROP TABLE calls_unpartitioned;
DROP TABLE call_rejects_unpartitioned;
