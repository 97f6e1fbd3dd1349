-- TRUNCATE fires no DELETE trigger: after one (an operator emptying a table by hand) the keys of
-- calls no longer stored go too, or a reload of those calls would meet them (unique_violation).
CREATE FUNCTION call_keys_truncated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM call_keys k
    WHERE NOT EXISTS (SELECT FROM calls c WHERE c.business_date = k.business_date AND c.call_id = k.call_id)
      AND NOT EXISTS (SELECT FROM call_rejects j WHERE j.business_date = k.business_date AND j.call_id = k.call_id);
    RETURN NULL;
END $$;
CREATE TRIGGER calls_keys_truncated AFTER TRUNCATE ON calls FOR EACH STATEMENT EXECUTE FUNCTION call_keys_truncated();
CREATE TRIGGER call_rejects_keys_truncated AFTER TRUNCATE ON call_rejects
    FOR EACH STATEMENT EXECUTE FUNCTION call_keys_truncated();
