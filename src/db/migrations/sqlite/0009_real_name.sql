-- 0009_real_name (SQLite): real-name verification (SPEC §1, §4): a member
-- sends an identity document's number and photos of its two sides; staff
-- review them; an approved member is "verified" (a badge, and the right
-- to open a board).
--
-- identity_verifications: personal data (verification), one row per
-- attempt; at most one draft or pending attempt per member at a time and
-- at most one approved.
--   id_type        prc_id (18 characters, MOD 11-2 check) or passport
--   id_number_enc  the number, sealed under the owner's data key
--                  (associated data: owner id + "identity_verifications.id_number");
--                  staff only ever see it masked, and every view is audited
--   id_number_bidx keyed blind index of the number: how many accounts use
--                  the same document, without anyone reading it
--   front_enc/back_enc photos of the two sides: the upload is decoded and
--                  re-encoded (JPEG, metadata dropped, at most 2000 px) and
--                  sealed like the number; photo_type is what they open to
--   status         draft (photos being sent), pending, approved, rejected
--   reason         why staff rejected it (shown to the member)
--   reviewer_id, reviewed_at: the decision
CREATE TABLE identity_verifications (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id_type TEXT CHECK (id_type IN ('prc_id', 'passport')),
    id_number_enc BLOB,
    id_number_bidx BLOB,
    front_enc BLOB,
    back_enc BLOB,
    photo_type TEXT NOT NULL DEFAULT 'image/jpeg',
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'pending', 'approved', 'rejected')),
    reason TEXT,
    reviewer_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at BIGINT,
    submitted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identity_verifications_open ON identity_verifications (user_id)
    WHERE status IN ('draft', 'pending');
CREATE UNIQUE INDEX identity_verifications_approved ON identity_verifications (user_id)
    WHERE status = 'approved';
CREATE INDEX identity_verifications_status ON identity_verifications (status, id);
CREATE INDEX identity_verifications_bidx ON identity_verifications (id_number_bidx);
