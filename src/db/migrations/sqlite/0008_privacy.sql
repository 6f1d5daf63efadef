-- 0008_privacy (SQLite): policy versions and consent receipts, purpose
-- switches and their history, and the in-app inbox (SPEC §2, §11);
-- src/privacy/consent.h describes how they are used.
--
-- policy_versions: one row per published version of a document (the
-- privacy policy, the terms). version counts per document from 1.
-- material = 1 makes every user accept it before they go on (the consent
-- gate). effective_at is when it takes effect (never before publication).
-- Published versions are never changed or deleted: receipts point at them
-- and earlier versions stay readable. Not personal data; who published a
-- version is in the audit log (action privacy.policy.publish).
CREATE TABLE policy_versions (
    id INTEGER PRIMARY KEY,
    document TEXT NOT NULL CHECK (document IN ('privacy', 'terms')),
    version BIGINT NOT NULL,
    material BIGINT NOT NULL CHECK (material IN (0, 1)),
    effective_at BIGINT NOT NULL,
    published_at BIGINT NOT NULL,
    UNIQUE (document, version)
);
CREATE INDEX policy_versions_material ON policy_versions (material, effective_at);

-- policy_texts: a version's text in one language. A language is added
-- once and never rewritten (a receipt names the text that was shown).
CREATE TABLE policy_texts (
    version_id BIGINT NOT NULL REFERENCES policy_versions (id),
    lang TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (version_id, lang)
);

-- policy_acceptances: the consent receipts. One row each time a user
-- accepted a version: which version, in which language it was shown,
-- when, from which address and browser, through the web app or an app.
-- Proof of consent: kept after the account ends, for the legal period
-- (registry), so no foreign key to users.
CREATE TABLE policy_acceptances (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES policy_versions (id),
    lang TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'app'))
);
CREATE INDEX policy_acceptances_user ON policy_acceptances (user_id, id);

-- purpose_settings: a user's switch per optional purpose. No row means
-- off: every purpose here needs consent, and consent is never assumed.
CREATE TABLE purpose_settings (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('recommendations', 'marketing_email',
        'marketing_sms', 'marketing_calls', 'contact_matching', 'model_improvement')),
    enabled BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

-- purpose_changes: every change of a switch (old → new, when, through
-- which channel): the record of consent given and withdrawn. Kept like
-- the receipts, so no foreign key to users.
CREATE TABLE purpose_changes (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    old_enabled BIGINT NOT NULL CHECK (old_enabled IN (0, 1)),
    new_enabled BIGINT NOT NULL CHECK (new_enabled IN (0, 1)),
    at BIGINT NOT NULL,
    channel TEXT NOT NULL
        CHECK (channel IN ('web', 'app', 'email_link', 'sms_keyword', 'staff'))
);
CREATE INDEX purpose_changes_user ON purpose_changes (user_id, id);

-- inbox: in-app notices, generic: kind names the message ("policy.published"),
-- params its values as a JSON object (ids and names, never secrets), the
-- web app renders it from the catalogue. ref, when set, makes a notice
-- unique per user (a re-run of the job that sends it adds nothing).
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    ref TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    UNIQUE (user_id, ref)
);
CREATE INDEX inbox_user ON inbox (user_id, id);
