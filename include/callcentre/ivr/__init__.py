"""ivr_calls_daily: MariaDB ``calls`` to PostgreSQL ``analytics``, one business day per run."""
