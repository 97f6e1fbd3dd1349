-- Two loads of a new month: the second waits for the first one's lock, but its catalog cache can
-- still say the partition is missing (a lock taken by pg_advisory_xact_lock reads no invalidation),
-- so its CREATE TABLE met "already exists" and the hour failed. The first load created and
-- attached both tables in one transaction: finding one there means the work is done.
CREATE OR REPLACE FUNCTION ensure_month_partitions(day date) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
                BEGIN
                    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
                                   part, parent);
                    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                                   parent, part, month, (month + interval '1 month')::date);
                EXCEPTION WHEN duplicate_table THEN
                    NULL;
                END;
            END IF;
        END LOOP;
    END LOOP;
END $$;
