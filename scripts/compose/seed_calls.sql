-- docker-compose.yaml only: demo calls for the last three days (about 2,000 a day, a few
-- invalid on purpose so call_rejects has rows), generated inside MariaDB.
SET SESSION max_recursive_iterations = 10000;
INSERT IGNORE INTO calls (call_id, start_time, end_time, duration, caller_number, dialed_number, ivr_path,
                          disposition, queue_name, agent_id, wait_seconds, updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
SELECT i,
       TIMESTAMPADD(SECOND, (i - 1) * 43, TIMESTAMP(CURDATE() - INTERVAL 3 DAY)),
       TIMESTAMPADD(SECOND, (i - 1) * 43 + 30 + i % 600, TIMESTAMP(CURDATE() - INTERVAL 3 DAY)),
       CASE WHEN i % 397 = 0 THEN NULL ELSE 20 + i % 600 END,
       CONCAT('300', LPAD(i * 7919 % 10000000, 7, '0')),
       '6015550100',
       CONCAT('1>', 1 + i % 4),
       ELT(1 + i % 10, 'ANSWERED', 'ANSWERED', 'ANSWERED', 'ANSWERED', 'ANSWERED', 'ANSWERED',
           'ABANDONED', 'TRANSFERRED', 'FAILED', 'BUSY'),
       ELT(1 + i % 3, 'ventas', 'soporte', 'cobros'),
       100 + i % 25,
       i % 90,
       TIMESTAMPADD(SECOND, (i - 1) * 43 + 700, TIMESTAMP(CURDATE() - INTERVAL 3 DAY))
FROM n;
