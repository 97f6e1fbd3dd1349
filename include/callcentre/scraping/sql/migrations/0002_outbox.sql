-- Messages owed about a job (its Slack alert, its uploader's email), written pending and marked sent
-- in the transaction that sends them (callcentre.common.alerting.Outbox). The reconcile DAG sends
-- what an outage of Slack or of the mail server held back: late, never lost, once.
CREATE TABLE IF NOT EXISTS outbox (
    job_id     bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel    text        NOT NULL CHECK (channel IN ('slack', 'email')),
    outcome    text        NOT NULL,
    attempt    integer     NOT NULL,
    recipient  text,
    subject    text,
    message    text        NOT NULL,
    pending    boolean     NOT NULL DEFAULT true,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, channel, outcome, attempt)
);
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (sent_at) WHERE pending;

-- Who hears about the job: the address of the upload form or the trigger's conf.notify_email, kept
-- when the job is registered (NULL: none given, or the upload opted out), so a job ended by the
-- reconcile DAG or by a person is told too.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS notify_email text;

-- The emails sent before the outbox existed stay sent.
DO $$
BEGIN
    IF to_regclass('job_emails') IS NOT NULL THEN
        INSERT INTO outbox (job_id, channel, outcome, attempt, recipient, message, pending, sent_at)
        SELECT e.job_id, 'email', e.outcome, e.attempt, e.recipient, '(sent before the outbox)', false, e.sent_at
        FROM job_emails e JOIN jobs j ON j.id = e.job_id
        ON CONFLICT DO NOTHING;
        DROP TABLE job_emails;
    END IF;
END $$;
