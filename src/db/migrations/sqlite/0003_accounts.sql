-- 0003_accounts (SQLite): accounts, their wrapped data keys, sessions,
-- known devices, one-time codes and rate-limit counters (SPEC §1, §3).
--
-- Personal data is sealed: phone, e-mail and the staff TOTP secret are
-- crypto_field_seal ciphertext under the owner's data key (associated data
-- = owner id + column name, so a value cannot move to another row or
-- column), and lookups go through keyed blind indexes (*_bidx). The plain
-- number or address never touches the database: one-time codes name their
-- target by blind index and the outbox (src/notify) carries the message.
-- Secrets that only need comparing (session tokens, codes, attempt tokens,
-- device ids, rate-limit keys) are keyed hashes. Times are int64 ms.

-- users: personal data (identity, contact, credentials, profile).
--   username       identity, stored lower-cased; NULL when not chosen
--   password_hash  credentials: Argon2id string; NULL for code-only accounts
--   phone_enc/bidx contact (encrypted + blind index); NULL once closed
--   email_enc/bidx contact, set only once verified (email_verified_at)
--   gender .. industry  profile, each optional; public_fields is the JSON
--                  list of the profile fields the user chose to make public
--   totp_secret_enc credentials (staff only), totp_last_step refuses replay
--   staff_roles    bit set: 1 support, 2 operations, 4 compliance, 8 admin
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    account_type TEXT NOT NULL DEFAULT 'individual'
        CHECK (account_type IN ('individual', 'enterprise')),
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'frozen', 'closing', 'closed')),
    username TEXT UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    phone_enc BLOB,
    phone_bidx BLOB UNIQUE,
    email_enc BLOB,
    email_bidx BLOB UNIQUE,
    email_verified_at BIGINT,
    gender TEXT,
    signature TEXT,
    company TEXT,
    title TEXT,
    department TEXT,
    industry TEXT,
    public_fields TEXT NOT NULL DEFAULT '[]',
    lang TEXT,
    staff_roles BIGINT NOT NULL DEFAULT 0,
    totp_secret_enc BLOB,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One data key per user, wrapped by a master key (crypto.h); `entrepot keys
-- rotate` re-wraps these rows. Deleting a row crypto-shreds the user's
-- sealed fields. No foreign key on purpose: the key commands (and their
-- tests) work on this table alone, and erasure deletes the row itself,
-- which is the point of crypto-shredding, not a side effect.
CREATE TABLE user_keys (
    user_id INTEGER PRIMARY KEY,
    wrapped_key BLOB NOT NULL
);

-- Devices a user has signed in from: device_hash is a keyed hash of the
-- random id in the device cookie (or the app's device token). A sign-in
-- from a device not listed here needs a one-time code.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_hash BLOB NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    UNIQUE (user_id, device_hash)
);

-- Sessions: only the keyed hash of the 256-bit token is stored. The CSRF
-- token is derived from the session token with a keyed hash, so nothing
-- about it is stored. kind is how the token travels (cookie or bearer);
-- staff = 1 for a staff sign-in (password + TOTP), the only kind of session
-- that carries staff roles. place is the coarse network (IPv4 /24, IPv6
-- /48) used for "approximate place" and new-network detection.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    remember BIGINT NOT NULL DEFAULT 0,
    staff BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_timeout_ms BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    device_id BIGINT REFERENCES devices (id) ON DELETE SET NULL,
    ip TEXT,
    place TEXT,
    user_agent TEXT,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id, revoked_at);

-- One-time codes: 6 digits, stored as crypto_otp_hash(code, purpose,
-- attempt token), so a code is good only for its purpose and attempt. The
-- target (phone or e-mail) is a blind index. tries counts wrong guesses.
CREATE TABLE otp_attempts (
    id INTEGER PRIMARY KEY,
    attempt_token_hash BLOB NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    target_bidx BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    tries BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    ip TEXT
);
CREATE INDEX otp_attempts_expiry ON otp_attempts (expires_at);

-- Fixed-window counters for code sending and password throttling. The key
-- is a keyed hash of what is limited ("ip:203.0.113.7", "acct:42", ...),
-- so no address is stored here in clear.
CREATE TABLE rate_limits (
    key_hash BLOB PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
