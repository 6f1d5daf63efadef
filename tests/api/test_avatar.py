"""Avatars end to end: PUT /api/v1/me/avatar with raw image bytes, re-encoded
by libvips into a 256-pixel WebP without metadata, stored sealed, served to
the owner always and to others only when made public, with version-tagged
caching; wrong types, oversize, damaged files and pixel bombs refused with
clear problems.

The test images are made here, byte by byte: PNG with zlib, and a small
baseline JPEG encoder (grayscale, DC coefficients only), both carrying EXIF
and comment metadata with a marker that must not survive.
"""
import os
import re
import sqlite3
import struct
import zlib

from harness import assert_problem, check, eq, sqlite_path
from test_accounts import Client, PASSWORD, _add_email, db_write, fresh, login, new_email, \
    register, set_clock

MARKER = b"GPS-48.8584N-2.2945E-SECRET"
PATH = "/api/v1/me/avatar"


# ---------------------------------------------------------------- images

def exif_tiff(text):
    """A big-endian TIFF/EXIF block with one ImageDescription entry."""
    s = text + b"\x00"
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x010E, 2, len(s), 26) + struct.pack(">I", 0)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + s


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(w, h, metadata=True, gray=False, idat=None):
    """An RGB (or gray) PNG with a gradient, an eXIf and a tEXt chunk."""
    if idat is None:
        rows = []
        for y in range(h):
            if gray:
                rows.append(b"\x00" + bytes(((x + y) * 3) & 0xFF for x in range(w)))
            else:
                rows.append(b"\x00" + b"".join(bytes((x * 255 // max(w - 1, 1),
                                                      y * 255 // max(h - 1, 1), 128))
                                               for x in range(w)))
        idat = zlib.compress(b"".join(rows), 9)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8,
                                                                0 if gray else 2, 0, 0, 0))
    if metadata:
        out += png_chunk(b"eXIf", exif_tiff(MARKER))
        out += png_chunk(b"tEXt", b"Comment\x00" + MARKER)
    return out + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png_bomb(side):
    """A real, complete gray PNG of side x side black pixels: small on the
    wire, side * side bytes once decoded."""
    z = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    parts = [z.compress(row) for _ in range(side)]
    parts.append(z.flush())
    return png(side, side, metadata=False, gray=True, idat=b"".join(parts))


def _huffman_codes(counts, symbols):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def jpeg(w, h):
    """A baseline grayscale JPEG (w, h multiples of 8) whose 8x8 blocks are
    flat shades, with an APP1 EXIF and a COM segment carrying MARKER."""
    dc_counts = [0, 0, 0, 12] + [0] * 12          # 12 categories, 4-bit codes
    dc_syms = list(range(12))
    ac_counts = [1] + [0] * 15                    # only EOB
    ac_syms = [0x00]
    dc = _huffman_codes(dc_counts, dc_syms)
    ac = _huffman_codes(ac_counts, ac_syms)
    bits = []

    def put(value, n):
        for i in range(n - 1, -1, -1):
            bits.append((value >> i) & 1)

    prev = 0
    for by in range(h // 8):
        for bx in range(w // 8):
            shade = (bx * 37 + by * 23) % 200 + 28
            coef = 8 * (shade - 128)              # the DC of a flat block, quantiser 1
            diff, prev = coef - prev, coef
            cat = abs(diff).bit_length()
            put(*dc[cat])
            if cat:
                put(diff if diff > 0 else (diff - 1) & ((1 << cat) - 1), cat)
            put(*ac[0x00])                        # end of block: no AC coefficients
    while len(bits) % 8:
        bits.append(1)
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i:i + 8])), 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0x00)

    def seg(marker, payload):
        return b"\xFF" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    return (b"\xFF\xD8"
            + seg(0xE1, b"Exif\x00\x00" + exif_tiff(MARKER))
            + seg(0xFE, MARKER)
            + seg(0xDB, b"\x00" + b"\x01" * 64)
            + seg(0xC0, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
            + seg(0xC4, b"\x00" + bytes(dc_counts) + bytes(dc_syms)
                  + b"\x10" + bytes(ac_counts) + bytes(ac_syms))
            + seg(0xDA, b"\x01\x01\x00\x00\x3F\x00")
            + bytes(data) + b"\xFF\xD9")


def webp_info(b):
    """(width, height, chunk names) of a WebP file."""
    check(b[:4] == b"RIFF" and b[8:12] == b"WEBP", f"not a WebP file: {b[:16]!r}")
    eq(struct.unpack("<I", b[4:8])[0] + 8, len(b), "RIFF size")
    chunks, w, h, i = [], None, None, 12
    while i + 8 <= len(b):
        kind, size = b[i:i + 4], struct.unpack("<I", b[i + 4:i + 8])[0]
        body = b[i + 8:i + 8 + size]
        chunks.append(kind.decode("latin-1"))
        if kind == b"VP8X":
            w = 1 + int.from_bytes(body[4:7], "little")
            h = 1 + int.from_bytes(body[7:10], "little")
        elif kind == b"VP8 " and w is None:
            check(body[3:6] == b"\x9d\x01\x2a", "VP8 start code")
            w, h = (struct.unpack("<H", body[6:8])[0] & 0x3FFF,
                    struct.unpack("<H", body[8:10])[0] & 0x3FFF)
        elif kind == b"VP8L" and w is None:
            v = int.from_bytes(body[1:5], "little")
            w, h = 1 + (v & 0x3FFF), 1 + ((v >> 14) & 0x3FFF)
        i += 8 + size + (size & 1)
    return w, h, chunks


# ---------------------------------------------------------------- helpers

def put_avatar(c, data, ctype="image/png", csrf=True):
    h = {"User-Agent": c.ua, "Content-Type": ctype}
    if c.cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    if c.token:
        h["Authorization"] = "Bearer " + c.token
    if csrf and c.csrf:
        h["X-CSRF-Token"] = c.csrf
    return c.http.request("PUT", PATH, body=data, headers=h)


def uploaded(c, data, ctype="image/png"):
    r = put_avatar(c, data, ctype)
    eq(r.status, 200, f"avatar upload ({r!r})")
    url = r.json()["avatar_url"]
    check(isinstance(url, str) and re.fullmatch(r"/api/v1/me/avatar\?v=[A-Za-z0-9_-]{16}", url),
          f"avatar_url {url!r}")
    return url


def assert_clean_square(body):
    w, h, chunks = webp_info(body)
    eq((w, h), (256, 256), "stored avatar size")
    for meta in ("EXIF", "XMP ", "ICCP"):
        check(meta not in chunks, f"the stored avatar kept a {meta!r} chunk: {chunks}")
    check(MARKER not in body, "the EXIF/comment marker survived re-encoding")


def unprocessable(r, code):
    p = assert_problem(r, 422, "unprocessable", PATH)
    errs = p.get("errors") or []
    check(any(e.get("field") == "avatar" and e.get("code") == code for e in errs),
          f"422 should name the field avatar with code {code}: {p!r}")
    return p


# ---------------------------------------------------------------- tests

def test_png_is_reencoded_without_metadata_and_served_with_tagged_caching(t):
    fresh(t)
    c, _ = register(t)
    me = c.get("/api/v1/me").json()
    eq(me["avatar_url"], None, "no avatar yet")
    url = uploaded(c, png(40, 30))
    tag = url.split("=")[1]
    r = c.get(url)
    eq(r.status, 200, f"owner reads the avatar ({r!r})")
    eq(r.content_type, "image/webp", "stored type")
    assert_clean_square(r.body)
    eq(r.header("ETag"), f'"{tag}"', "ETag is the version tag")
    cc = r.header("Cache-Control") or ""
    check("private" in cc and "immutable" in cc and "max-age=31536000" in cc,
          f"a tagged URL of one's own avatar is cached privately for good: {cc!r}")
    r2 = c.get(PATH)
    eq(r2.status, 200, "untagged URL")
    eq(r2.body, r.body, "same picture")
    cc = r2.header("Cache-Control") or ""
    check("no-cache" in cc and "immutable" not in cc, f"an untagged URL must revalidate: {cc!r}")
    r3 = c.request("GET", PATH, headers={"If-None-Match": f'"{tag}"'})
    eq(r3.status, 304, "If-None-Match with the current tag")
    eq(r3.body, b"", "304 has no body")
    # A new picture gets a new tag; the old one no longer matches.
    url2 = uploaded(c, png(20, 20))
    check(url2 != url, "a new upload changes the tag")
    eq(c.request("GET", PATH, headers={"If-None-Match": f'"{tag}"'}).status, 200,
       "an old ETag does not match the new picture")
    cc = c.get(url).header("Cache-Control") or ""
    check("immutable" not in cc, f"an outdated tag must not be cached for good: {cc!r}")


def test_jpeg_with_exif_is_cropped_to_a_clean_square(t):
    fresh(t)
    c, _ = register(t, client=Client(t, app=True))
    data = jpeg(64, 32)
    check(MARKER in data, "the test JPEG carries the marker")
    url = uploaded(c, data, "image/jpeg")
    r = c.get(url)
    eq(r.status, 200, f"bearer owner reads the avatar ({r!r})")
    assert_clean_square(r.body)
    # The server's own WebP is accepted back as image/webp.
    url2 = uploaded(c, r.body, "image/webp")
    assert_clean_square(c.get(url2).body)


def test_avatar_is_public_only_when_chosen(t):
    fresh(t)
    c, _ = register(t)
    uid = c.user["id"]
    uploaded(c, png(16, 16))
    anon = Client(t)
    pub = f"/api/v1/users/{uid}/avatar"
    assert_problem(anon.get(pub), 404, "not-found")
    other, _ = register(t, client=Client(t))
    assert_problem(other.get(pub), 404, "not-found")
    check("avatar_url" not in anon.get(f"/api/v1/users/{uid}").json(), "private: not listed")
    r = c.request("PATCH", "/api/v1/me", {"public_fields": ["avatar"]})
    eq(r.status, 200, f"make the avatar public ({r!r})")
    prof = anon.get(f"/api/v1/users/{uid}").json()
    url = prof.get("avatar_url")
    check(url and url.startswith(pub + "?v="), f"public profile lists the avatar: {prof!r}")
    r = anon.get(url)
    eq(r.status, 200, f"anyone reads a public avatar ({r!r})")
    assert_clean_square(r.body)
    cc = r.header("Cache-Control") or ""
    check("public" in cc and "immutable" in cc, f"public tagged avatar caching: {cc!r}")
    eq(r.body, c.get(PATH).body, "the same picture as the owner's")
    # Private again: gone for others at once, still there for the owner.
    eq(c.request("PATCH", "/api/v1/me", {"public_fields": []}).status, 200, "hide it")
    assert_problem(anon.get(url), 404, "not-found")
    eq(c.get(PATH).status, 200, "the owner still sees it")


def test_avatar_is_stored_sealed_and_deleted(t):
    fresh(t)
    c, _ = register(t)
    uid = c.user["id"]
    uploaded(c, png(32, 32))
    served = c.get(PATH).body
    rows = t.sql(f"SELECT media_type, width, height, image_enc FROM avatars WHERE user_id = {uid}")
    eq(len(rows), 1, "one avatar row")
    media, w, h, enc = rows[0]
    eq((str(media), int(w), int(h)), ("image/webp", 256, 256), "stored facts")
    if t.backend == "sqlite":
        check(isinstance(enc, bytes) and served not in enc and b"RIFF" not in enc,
              "the picture is sealed at rest")
    else:
        check(served.hex() not in enc and b"RIFF".hex() not in enc, "the picture is sealed at rest")
    r = c.request("DELETE", PATH)
    eq(r.status, 204, f"delete ({r!r})")
    assert_problem(c.get(PATH), 404, "not-found")
    eq(c.get("/api/v1/me").json()["avatar_url"], None, "no avatar_url after delete")
    assert_problem(c.request("DELETE", PATH), 404, "not-found")
    eq(t.sql(f"SELECT COUNT(*) FROM avatars WHERE user_id = {uid}")[0][0] in (0, "0"), True,
       "row gone")
    log = c.get("/api/v1/me/security-log").json()["entries"]
    actions = [e.get("action") for e in log]
    check("account.avatar_updated" in actions and "account.avatar_removed" in actions,
          f"the changes are in the security log: {actions}")
    # Deleting the account deletes the picture with it (foreign key cascade).
    uploaded(c, png(8, 8))
    if t.backend == "sqlite":
        con = sqlite3.connect(sqlite_path(t.database), timeout=10)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("DELETE FROM user_keys WHERE user_id = ?", (uid,))
            con.execute("DELETE FROM users WHERE id = ?", (uid,))
            con.commit()
        finally:
            con.close()
    else:
        db_write(t, f"DELETE FROM user_keys WHERE user_id = {uid}; DELETE FROM users WHERE id = {uid}")
    eq(t.sql(f"SELECT COUNT(*) FROM avatars WHERE user_id = {uid}")[0][0] in (0, "0"), True,
       "the avatar goes with its account")


def test_wrong_type_oversize_and_empty_uploads(t):
    fresh(t)
    c, _ = register(t)
    before = c.get("/api/v1/me").json()
    for ctype in ("text/plain", "image/gif", "application/json", "image/svg+xml"):
        p = assert_problem(put_avatar(c, png(8, 8), ctype), 415, "unsupported-media-type", PATH)
        check("image/png" in p["detail"], f"415 says what to send: {p['detail']!r}")
    # Over the route's 5 MiB cap: 413 at once, before the body is sent.
    raw = t.raw()
    raw.send(f"PUT {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
             f"Content-Length: {5 * 1024 * 1024 + 1}\r\nCookie: entrepot_session="
             f"{c.cookies['entrepot_session']}\r\nX-CSRF-Token: {c.csrf}\r\n\r\n")
    r = raw.read_response(timeout=5)
    check(r is not None, "no 413 for an oversize avatar")
    p = assert_problem(r, 413, "too-large", PATH)
    check("5242880" in p["detail"], f"413 names the avatar cap: {p['detail']!r}")
    r = put_avatar(c, b"")
    p = assert_problem(r, 400, "invalid", PATH)
    check(any(e["field"] == "avatar" for e in p["errors"]), f"empty body names avatar: {p!r}")
    anon = Client(t)
    assert_problem(put_avatar(anon, png(8, 8)), 401, "unauthorized", PATH)
    assert_problem(put_avatar(c, png(8, 8), csrf=False), 403, "csrf", PATH)
    eq(c.get("/api/v1/me").json(), before, "the account after refused uploads")
    eq(t.sql(f"SELECT COUNT(*) FROM avatars WHERE user_id = {before['id']}")[0][0] in (0, "0"),
       True, "nothing stored")


def test_a_large_photo_under_the_avatar_cap_is_accepted(t):
    fresh(t)
    c, _ = register(t)
    w = h = 700
    rows = b"".join(b"\x00" + os.urandom(3 * w) for _ in range(h))
    data = png(w, h, idat=zlib.compress(rows, 1))
    check(len(data) > 1024 * 1024, f"larger than the 1 MiB JSON body cap ({len(data)} bytes)")
    assert_clean_square(c.get(uploaded(c, data)).body)


def test_damaged_mislabelled_and_bomb_images_are_422(t):
    fresh(t)
    c, _ = register(t)
    good = png(24, 24)
    unprocessable(put_avatar(c, jpeg(16, 16), "image/png"), "image_type_mismatch")
    unprocessable(put_avatar(c, good, "image/jpeg"), "image_type_mismatch")
    unprocessable(put_avatar(c, b"GIF89a" + b"\x00" * 64, "image/png"), "image_type_mismatch")
    unprocessable(put_avatar(c, good[:len(good) - 40]), "image_invalid")          # truncated
    broken = bytearray(good)
    idat = broken.index(b"IDAT")
    for i in range(idat + 8, idat + 40):
        broken[i] ^= 0x5A
    unprocessable(put_avatar(c, bytes(broken)), "image_invalid")                 # corrupt data
    unprocessable(put_avatar(c, b"\xFF\xD8\xFF" + bytes(range(256)) * 4, "image/jpeg"),
                  "image_invalid")
    # A header claiming 30000 x 30000 pixels: refused before decoding.
    unprocessable(put_avatar(c, png(30000, 30000, metadata=False, idat=zlib.compress(b"\x00"))),
                  "image_too_many_pixels")
    # A real, complete 64-megapixel PNG of 64 KiB.
    bomb = png_bomb(8000)
    check(len(bomb) < 200 * 1024, f"the bomb is small on the wire ({len(bomb)} bytes)")
    unprocessable(put_avatar(c, bomb), "image_too_many_pixels")
    eq(c.get("/api/v1/me").json()["avatar_url"], None, "nothing was stored")
    uploaded(c, good)  # the account still works


def test_avatar_uploads_are_rate_limited(t):
    fresh(t)
    c, phone = register(t)
    small = png(8, 8, metadata=False)
    try:
        for i in range(20):
            eq(put_avatar(c, small).status, 200, f"upload {i + 1}")
        r = put_avatar(c, small)
        p = assert_problem(r, 429, "rate-limited", PATH)
        ra = int(r.header("Retry-After") or 0)
        check(0 < ra <= 3600, f"Retry-After {r.header('Retry-After')!r}")
        eq(p.get("retry_after_s"), ra, "retry_after_s matches Retry-After")
        set_clock(t, 3601 * 1000)
        login(c, phone)  # the hour ended the idle session too
        eq(put_avatar(c, small).status, 200, "a new hour")
    finally:
        set_clock(t, 0)


def test_profile_edits_and_reauth_codes_are_rate_limited(t):
    fresh(t)
    c, phone = register(t)
    try:
        for i in range(60):
            r = c.request("PATCH", "/api/v1/me", {"signature": f"edit {i}"})
            eq(r.status, 200, f"edit {i + 1}")
        r = c.request("PATCH", "/api/v1/me", {"signature": "one too many"})
        p = assert_problem(r, 429, "rate-limited", "/api/v1/me")
        check(int(r.header("Retry-After") or 0) > 0, "Retry-After on PATCH /me")
        check("seconds" in p["detail"], f"the detail says how long: {p['detail']!r}")
        eq(c.get("/api/v1/me").json()["signature"], "edit 59", "the refused edit changed nothing")
        # Re-authentication codes: limited per account across channels.
        fresh(t)
        _add_email(t, c, new_email())
        fresh(t)
        sent = 0
        for channel in ("sms", "email"):
            for _ in range(4):
                r = c.post("/api/v1/me/codes", {"channel": channel})
                eq(r.status, 202, f"code {sent + 1} by {channel} ({r!r})")
                sent += 1
        r = c.post("/api/v1/me/codes", {"channel": "email"})
        assert_problem(r, 429, "rate-limited", "/api/v1/me/codes")
        check(int(r.header("Retry-After") or 0) > 0, "Retry-After on me/codes")
        set_clock(t, 3601 * 1000)
        login(c, phone)
        eq(c.request("PATCH", "/api/v1/me", {"signature": "later"}).status, 200, "a new hour")
    finally:
        set_clock(t, 0)
    check(PASSWORD, "password")
