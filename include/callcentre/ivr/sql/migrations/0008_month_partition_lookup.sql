-- The month partition of ``parent`` that holds ``day``, schema-qualified (NULL when there is none
-- yet), named as ensure_month_partitions names them. A load writes its hour's partitions
-- directly, resolved once per attempt (load.py): statements against the parent are planned for
-- every month ever loaded.
CREATE FUNCTION month_partition(parent text, day date) RETURNS text LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = to_regclass(parent)
    WHERE c.oid = to_regclass(parent || '_p' || to_char(day, 'YYYY_MM'))
$$;

-- call_keys is read by call id only; its index on the day served retention alone, which now
-- deletes a dropped month's keys by the ids that month holds. One index fewer to write for every
-- call a load stores (about a sixth of an hour's insert, docs/performance.md).
DROP INDEX call_keys_day_idx;
CREATE OR REPLACE FUNCTION drop_partitions_before(cutoff date) RETURNS SETOF text LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
            EXECUTE format('DELETE FROM call_keys k USING %I d WHERE k.call_id = d.call_id', p.part);
            EXECUTE format('DROP TABLE %I', p.part);
            DELETE FROM hour_reads WHERE business_date < month_end;
            RETURN NEXT p.part;
        END IF;
    END LOOP;
END $$;
