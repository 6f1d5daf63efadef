-- 0011_privacy_requests (SQLite): the privacy center's requests and
-- registers (SPEC §2; src/privacy/requests.h describes how they are used):
-- complaints and objections, corrections of verified fields, guardians'
-- requests about minors, and the breach register.
--
-- privacy_tickets: complaints, objections and questions about how personal
-- data is handled (SPEC §2). kind is complaint, objection, access (a
-- question about access to one's data) or other; purpose optionally names
-- the purpose it is about (a purpose switch or a registry purpose). The
-- text is sealed under the owner's data key (body_enc, associated data
-- "privacy_tickets.body"). status goes open → acknowledged → resolved;
-- ack_due_at and resolve_due_at are 5 and 15 working days after
-- created_at (src/core/workdays.c); the overdue job stamps
-- ack_escalated_at / resolve_escalated_at when it escalates a missed
-- deadline to compliance staff. Kept three years after it is resolved,
-- through the account's erasure (the proof it was handled in time: the
-- text is shredded with the key), so no foreign key to users. Values of
-- kind and status are checked by src/privacy/requests.c.
CREATE TABLE privacy_tickets (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    purpose TEXT,
    body_enc BLOB,
    status TEXT NOT NULL DEFAULT 'open',
    created_at BIGINT NOT NULL,
    ack_due_at BIGINT NOT NULL,
    resolve_due_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    ack_escalated_at BIGINT,
    resolve_escalated_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX privacy_tickets_user ON privacy_tickets (user_id, id);
CREATE INDEX privacy_tickets_queue ON privacy_tickets (status, id);

-- privacy_ticket_messages: the conversation of a ticket: the user's
-- follow-ups and staff replies (author user or staff; role is the staff
-- member's role, never who). Sealed under the ticket owner's key like the
-- ticket's text; deleted at the owner's erasure.
CREATE TABLE privacy_ticket_messages (
    id INTEGER PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES privacy_tickets (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    role TEXT,
    body_enc BLOB,
    created_at BIGINT NOT NULL
);
CREATE INDEX privacy_ticket_messages_ticket ON privacy_ticket_messages (ticket_id, id);

-- correction_requests: a request to correct a verified field (real name,
-- company name, credit code, address, legal representative), which only
-- staff may change (SPEC §2: within 2 working days, due_at). The new value
-- and the evidence are sealed under the owner's key. status pending →
-- approved / rejected (reason: why, shown to the user); escalated_at when
-- the overdue job escalated it. At most one pending request per field.
-- Kept three years after the decision, like tickets.
CREATE TABLE correction_requests (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    field TEXT NOT NULL,
    value_enc BLOB,
    evidence_enc BLOB,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    decided_at BIGINT,
    escalated_at BIGINT
);
CREATE INDEX correction_requests_user ON correction_requests (user_id, id);
CREATE INDEX correction_requests_queue ON correction_requests (status, due_at);
CREATE UNIQUE INDEX correction_requests_pending ON correction_requests (user_id, field)
    WHERE status = 'pending';

-- verified_fields: the verified value of each such field, as staff
-- approved it (the accounts module has no verified real-name or company
-- fields of its own yet: this table is where they live). Sealed under the
-- owner's key; deleted at erasure.
CREATE TABLE verified_fields (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value_enc BLOB,
    request_id BIGINT,
    verified_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, field)
);

-- minor_requests: a guardian's request to end a minor's use of the
-- service (SPEC §2): recorded by compliance staff with the guardian's
-- contact and a note on the evidence seen; the account is then closed and
-- erased at once (status closing → closed, closed_at) through the same
-- erasure as a cancellation, without cooling-off. The row stays three
-- years after closing as the reason the account was erased, so no foreign
-- key; who recorded it is in the audit log.
CREATE TABLE minor_requests (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    guardian_contact TEXT NOT NULL,
    evidence_note TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'closing',
    created_at BIGINT NOT NULL,
    closed_at BIGINT,
    job_id BIGINT
);
CREATE INDEX minor_requests_user ON minor_requests (user_id);
CREATE INDEX minor_requests_list ON minor_requests (id);

-- breach_incidents: the breach register. An incident about the platform,
-- not about a person: what happened, its cause and impact, when it was
-- detected (and when it happened, when known), whether it is major (the
-- regulator is told within 4 hours, every incident within 72), the
-- categories of personal data involved (registry categories, comma
-- separated), what was done, what users can do, whom to contact; when the
-- regulator was told (and its reference) and when users were last sent
-- notices. Who opened and changed it is in the audit log. Kept as long
-- as the platform runs.
CREATE TABLE breach_incidents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    cause TEXT NOT NULL DEFAULT '',
    impact TEXT NOT NULL DEFAULT '',
    detected_at BIGINT NOT NULL,
    occurred_at BIGINT,
    major BIGINT NOT NULL CHECK (major IN (0, 1)),
    categories TEXT NOT NULL DEFAULT '',
    measures TEXT NOT NULL DEFAULT '',
    user_advice TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    regulator_reported_at BIGINT,
    regulator_reference TEXT,
    notices_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX breach_incidents_status ON breach_incidents (status, detected_at);

-- breach_affected: the accounts an incident concerns, and when each was
-- sent its notice (in-app and e-mail, or SMS). The proof each affected
-- user was told, kept three years after the notice, through the account's
-- erasure. incident_id names a breach_incidents row (never deleted).
CREATE TABLE breach_affected (
    incident_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    notified_at BIGINT,
    PRIMARY KEY (incident_id, user_id)
);
CREATE INDEX breach_affected_user ON breach_affected (user_id, incident_id);
CREATE INDEX breach_affected_pending ON breach_affected (incident_id, notified_at);
