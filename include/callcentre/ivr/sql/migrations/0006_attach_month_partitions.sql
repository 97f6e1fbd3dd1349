-- A new month partition is created apart and then attached: ATTACH PARTITION takes only a SHARE
-- UPDATE EXCLUSIVE lock on the parent (reads and loads go on), where CREATE TABLE ... PARTITION OF
-- takes ACCESS EXCLUSIVE and would queue every reader behind the longest running query.
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
                IF to_regclass(part) IS NULL THEN
                    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
                                   part, parent);
                    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                                   parent, part, month, (month + interval '1 month')::date);
                END IF;
            END IF;
        END LOOP;
    END LOOP;
END $$;
