-- 0004_notify (SQLite): the outbound message queue and the disclosure
-- ledger (SPEC §2, §11); src/notify/notify.h describes both.
--
-- outbox: one row per e-mail or SMS, written inside the transaction of the
-- request that wants it sent, delivered by the worker. payload is the
-- personal part, sealed (crypto_field_seal, owner = the row id, column
-- "outbox.payload") under a server key derived from the index root: JSON
-- {"to","subject","body","unsubscribe"} — registry: category contact +
-- content, purpose = the row's purpose, encrypted, kept until delivered
-- (then dropped, except by the dev provider) and the row until the outbox
-- retention purge. user_id, purpose, template, lang, data_types: personal
-- data by association (whose message, what kind). The rest is delivery
-- bookkeeping. While status = 'sending', next_attempt_at is the lease: a
-- worker that dies mid-delivery leaves the row to be claimed again after it.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    user_id BIGINT,
    purpose TEXT NOT NULL CHECK (purpose IN ('security', 'service', 'marketing')),
    template TEXT NOT NULL,
    lang TEXT NOT NULL,
    data_types TEXT NOT NULL,
    payload BLOB,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    provider TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_user ON outbox (user_id, id);
CREATE INDEX outbox_created ON outbox (created_at);

-- disclosures: the ledger of personal data leaving the platform. One row
-- each time data went to another system (an SMS or e-mail provider, a
-- payment or translation provider, a legal order...). Shown to the user
-- in the privacy center. user_id NULL when no account is known (a code
-- sent during registration). reference names the local object (for
-- deliveries "outbox:ID"). Registry: category disclosure, purpose
-- accountability, legal basis legal obligation, not encrypted (holds no
-- contact data itself, only kinds of data and system names).
CREATE TABLE disclosures (
    id INTEGER PRIMARY KEY,
    user_id BIGINT,
    at BIGINT NOT NULL,
    recipient_system TEXT NOT NULL,
    data_types TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    reference TEXT
);
CREATE INDEX disclosures_user ON disclosures (user_id, id);
