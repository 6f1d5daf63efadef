-- 0006_avatars (PostgreSQL): profile pictures (SPEC §1, profile: avatar).
--
-- The uploaded file is never stored. The server decodes it with libvips
-- and keeps a fresh 256x256 WebP with every metadata block dropped (EXIF
-- and its GPS position, XMP, ICC, comments), sealed under the owner's data
-- key (crypto_field_seal, associated data = owner id + "avatars.image"),
-- so destroying the user's key destroys the picture in every copy and
-- backup, and deleting the user deletes the row.
--
-- avatars: personal data (identity: a picture of the user, usually).
--   tag        random version tag carried by URLs (?v=) and the ETag: a new
--              picture gets a new tag, so a tagged URL can be cached for good
--   image_enc  the sealed WebP; media_type is what it decrypts to
--   width, height, created_at: non-personal facts about the picture
-- Whether others may see it is "avatar" in users.public_fields.
CREATE TABLE avatars (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    media_type TEXT NOT NULL,
    image_enc BYTEA NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
