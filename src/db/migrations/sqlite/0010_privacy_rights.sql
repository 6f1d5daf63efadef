-- 0010_privacy_rights (SQLite): the user's rights to a copy of their data
-- and to the closing of their account, and the retention job's record
-- (SPEC §2; src/privacy/privacy.h describes how they are used).
--
-- privacy_exports: one row per export asked for. The archive (a zip of
-- JSON per category and the user's files) is sealed under the user's data
-- key and written to <data_dir>/exports/<file_name>, a random name; so it
-- is shredded with the key like every other sealed field. It can be
-- downloaded until expires_at; the retention job then deletes the file and
-- the row. Registry: personal (account records), deleted at erasure.
CREATE TABLE privacy_exports (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    lang TEXT NOT NULL,
    file_name TEXT,
    size_bytes BIGINT,
    sha256 TEXT,
    categories TEXT,
    requested_at BIGINT NOT NULL,
    ready_at BIGINT,
    expires_at BIGINT,
    downloaded_at BIGINT,
    download_count BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX privacy_exports_user ON privacy_exports (user_id, id);
CREATE INDEX privacy_exports_expiry ON privacy_exports (expires_at);

-- account_cancellations: a request to close the account. It waits out the
-- cooling-off period (pending until effective_at; the user may take it
-- back: withdrawn), then a job erases the account (completed). content is
-- what the user chose for their public content: delete it, or keep it
-- anonymised. At most one pending request per account. Kept after the
-- account ends (the proof it was honoured in time), so no foreign key.
CREATE TABLE account_cancellations (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'withdrawn', 'completed')),
    content TEXT NOT NULL CHECK (content IN ('delete', 'anonymise')),
    requested_at BIGINT NOT NULL,
    effective_at BIGINT NOT NULL,
    closed_at BIGINT,
    job_id BIGINT
);
CREATE UNIQUE INDEX account_cancellations_pending ON account_cancellations (user_id)
    WHERE status = 'pending';
CREATE INDEX account_cancellations_user ON account_cancellations (user_id, id);

-- retention_runs: per registered table, when the retention job last
-- applied its rule and what it removed (for the staff view). Not personal.
CREATE TABLE retention_runs (
    table_name TEXT PRIMARY KEY,
    last_run_at BIGINT NOT NULL,
    last_removed BIGINT NOT NULL DEFAULT 0,
    total_removed BIGINT NOT NULL DEFAULT 0,
    pending BIGINT NOT NULL DEFAULT 0
);
