-- 0001_init (SQLite): instance-wide settings, keyed by name. Not personal
-- data: only operator-chosen configuration lives here. Times are int64 ms.
CREATE TABLE instance (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
