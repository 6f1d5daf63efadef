-- 0005_jobs (SQLite): the durable job queue (src/jobs/jobs.h explains the
-- contract: at-least-once start, exactly-once completion).
--
-- One row per job. state moves queued -> running -> done, or back to
-- queued with a later run_at after a failed attempt, or to dead after
-- max_attempts (kept for an operator). While running, lease_until is the
-- lease: a worker that dies leaves the row to be claimed again once it
-- passes. attempts doubles as the fencing token: a worker completes or
-- fails a job only WHERE attempts still equals the value it claimed, so a
-- worker whose lease ran out cannot overwrite a newer claim's outcome.
-- unique_key (NULL for most jobs) makes an enqueue idempotent; the
-- scheduler uses "sched:NAME:SLOT" so several workers never schedule one
-- slot twice. Payloads carry references (ids), never personal values.
-- Registry (src/privacy/registry.c): user_id and payload are personal data
-- by association (whose job, what it does); the rest is bookkeeping.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    lease_ms BIGINT NOT NULL,
    lease_until BIGINT,
    worker TEXT,
    unique_key TEXT UNIQUE,
    user_id BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('done', 'dead');
CREATE INDEX jobs_user ON jobs (user_id) WHERE user_id IS NOT NULL;
