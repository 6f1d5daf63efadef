-- 0002_audit (SQLite): the append-only, hash-chained audit log (SPEC §3).
-- Security events and every staff read of a user's personal data. Each
-- entry's entry_hash = SHA-256(0x00 ‖ prev_hash ‖ canonical entry), see
-- src/audit/audit.h; ids are dense (1, 2, 3, ...) so a removal shows.
-- Triggers refuse UPDATE and DELETE; `entrepot audit verify` still detects
-- tampering by someone who drops them. Times are int64 ms; ip and the
-- subject are personal data kept with the log.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_user_id BIGINT,
    fields TEXT,
    reason TEXT,
    detail TEXT,
    ip TEXT,
    prev_hash BLOB NOT NULL,
    entry_hash BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- One row: the chain's head (last id and entry hash). Appenders lock it
-- first (an UPDATE), which serialises them on both engines, and verify
-- compares it with the log's last entry, so entries cut from the end show.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    last_hash BLOB NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, zeroblob(32));
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
WHEN NEW.last_id < OLD.last_id OR NEW.id <> OLD.id
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;
