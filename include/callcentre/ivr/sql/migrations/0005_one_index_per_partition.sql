-- One index per partition, keyed the way every statement of a load reads it: (business_date,
-- local_hour) for the hour's replace, the full key for a call found through call_keys (which
-- knows its hour). With a second index on the day alone the planner, on the fresh statistics of a
-- just-loaded partition, could probe a call by scanning its whole day (minutes for a reload).
ALTER TABLE calls DROP CONSTRAINT calls_pkey;
ALTER TABLE calls ADD PRIMARY KEY (business_date, local_hour, call_id);
DROP INDEX calls_hour_idx;
ALTER TABLE call_rejects DROP CONSTRAINT call_rejects_pkey;
ALTER TABLE call_rejects ADD PRIMARY KEY (business_date, local_hour, call_id);
DROP INDEX call_rejects_hour_idx;
