-- The jobs page sorts and pages by creation, optionally within one status or one uploader.
CREATE INDEX IF NOT EXISTS jobs_page_created_idx ON jobs (created_at, id);
CREATE INDEX IF NOT EXISTS jobs_page_status_created_idx ON jobs (status, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_page_uploader_created_idx ON jobs (uploader, created_at, id);

-- Its search is a substring match (ILIKE '%term%') on file name and uploader. pg_trgm is a trusted
-- extension (PostgreSQL 13+), so the database owner may create it; where it cannot, search still
-- works, by scan.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    CREATE INDEX IF NOT EXISTS jobs_page_file_name_trgm ON jobs USING gin (file_name gin_trgm_ops);
    CREATE INDEX IF NOT EXISTS jobs_page_uploader_trgm ON jobs USING gin (uploader gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'scraping jobs page: no trigram indexes (%); search scans the table', SQLERRM;
END $$;
