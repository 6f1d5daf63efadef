-- 0002_audit (PostgreSQL): the append-only, hash-chained audit log (SPEC
-- §3). Security events and every staff read of a user's personal data.
-- Each entry's entry_hash = SHA-256(0x00 ‖ prev_hash ‖ canonical entry),
-- see src/audit/audit.h; ids are dense (1, 2, 3, ...) and set by the
-- appender, so a removal shows. A trigger refuses UPDATE, DELETE and
-- TRUNCATE; `entrepot audit verify` still detects tampering by someone who
-- drops it. Column names match the SQLite migration exactly.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_user_id BIGINT,
    fields TEXT,
    reason TEXT,
    detail TEXT,
    ip TEXT,
    prev_hash BYTEA NOT NULL,
    entry_hash BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- One row: the chain's head (last id and entry hash). Appenders lock it
-- first (an UPDATE takes its row lock until commit), which serialises them,
-- and verify compares it with the log's last entry, so entries cut from the
-- end show.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    last_hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.last_id < OLD.last_id OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'audit_head only moves forward';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
