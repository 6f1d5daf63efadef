"""Real-name verification over HTTP: a member sends photos of both sides of
an identity document and its number; support or compliance staff review it
(the number masked, the photos one at a time, every view audited with its
purpose); an approved member gets the badge and may open a board, which
they then own and staff it with moderators.

Storage promises are checked in the database: the number and the photos
are never stored readable, and the photos lose their metadata. Runs on
both engines.
"""
import time

from harness import assert_problem, check, eq
from test_accounts import Client, db_write, fresh
from test_avatar import MARKER, jpeg, png, png_bomb
from test_community import member, new_board
from test_community_moderation import (ROLE_COMPLIANCE, ROLE_OPERATIONS, ROLE_SUPPORT, one, rows,
                                       staff_with)

ID_OK = "11010519491231002X"       # valid MOD 11-2 check character
ID_OK2 = "440308199001011234"
ID_BAD = "110105194912310021"       # wrong check character
ME = "/api/v1/me/verification"
QUEUE = "/api/v1/staff/verifications"


def _check_digit(first17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(first17, w)) % 11]


ID_OK2 = ID_OK2[:17] + _check_digit(ID_OK2[:17])


def put_photo(c, side, data, ctype="image/png"):
    h = {"User-Agent": c.ua, "Content-Type": ctype}
    if c.cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    if c.csrf:
        h["X-CSRF-Token"] = c.csrf
    return c.http.request("PUT", f"{ME}/photos/{side}", body=data, headers=h)


def send_documents(t, c, number=ID_OK, id_type="prc_id"):
    eq(put_photo(c, "front", png(64, 40)).status, 204, "front photo")
    eq(put_photo(c, "back", jpeg(64, 40), "image/jpeg").status, 204, "back photo")
    r = c.post(ME, {"id_type": id_type, "id_number": number})
    eq(r.status, 200, f"submission ({r!r})")
    return r.json()


def pending_id(t, s, user_id):
    q = s.get(QUEUE).json()["verifications"]
    mine = [v["id"] for v in q if v["user"]["id"] == user_id]
    eq(len(mine), 1, "the attempt is in the queue once")
    return mine[0]


def audit_rows(t, subject):
    return rows(t, f"SELECT actor_role, action, fields, reason FROM audit_log WHERE "
                   f"subject_user_id = {subject} AND action LIKE 'staff.%' ORDER BY id")


# ---------------------------------------------------------------- the whole way

def test_member_is_verified_then_opens_and_staffs_a_board(t):
    fresh(t)
    m = member(t)
    uid = m.user["id"]
    slug = "mine-" + str(uid)
    p = assert_problem(m.post("/api/v1/boards", {"slug": slug, "name": "我的版块"}), 403)
    check("verif" in p["detail"].lower() or "认证" in p["detail"], f"says why: {p['detail']!r}")
    eq(m.get(ME).json(), {"verified": False, "latest": None}, "nothing yet")
    p = assert_problem(m.post(ME, {"id_type": "prc_id", "id_number": ID_OK}), 422,
                       "unprocessable")
    eq(put_photo(m, "front", png(64, 40)).status, 204, "front")
    j = m.get(ME).json()["latest"]
    eq((j["status"], j["front"], j["back"]), ("draft", True, False), "a draft")
    eq(put_photo(m, "back", jpeg(64, 40), "image/jpeg").status, 204, "back")
    p = assert_problem(m.post(ME, {"id_type": "prc_id", "id_number": ID_BAD}), 400)
    eq((p["errors"][0]["field"], p["errors"][0]["code"]), ("id_number", "invalid_id_number"),
       "a wrong check character")
    assert_problem(m.post(ME, {"id_type": "driving", "id_number": ID_OK}), 400)
    r = m.post(ME, {"id_type": "prc_id", "id_number": ID_OK.lower()})
    eq(r.status, 200, f"submit ({r!r})")
    latest = r.json()["latest"]
    eq((latest["status"], latest["id_number_masked"]), ("pending", "110***********002X"),
       "pending, the number masked")
    # Nothing can change while it is reviewed.
    assert_problem(put_photo(m, "front", png(64, 40)), 409, "conflict")
    assert_problem(m.post(ME, {"id_type": "prc_id", "id_number": ID_OK}), 409, "conflict")
    # Stored sealed: neither the number nor the photos' metadata in clear.
    blobs = rows(t, f"SELECT id_number_enc, front_enc, back_enc FROM identity_verifications "
                    f"WHERE user_id = {uid}")
    eq(len(blobs), 1, "one attempt")
    raw = t.sql(f"SELECT id_number_enc, front_enc, back_enc, id_number_bidx FROM "
                f"identity_verifications WHERE user_id = {uid}")[0]
    raw = [bytes(v) if isinstance(v, (bytes, memoryview)) else
           bytes.fromhex(v[2:]) if isinstance(v, str) and v.startswith("\\x") else str(v).encode()
           for v in raw]
    for b in raw:
        check(ID_OK.encode() not in b and b"1949" not in b, "no number in clear")
        check(MARKER not in b and b"IHDR" not in b and b"JFIF" not in b, "no image in clear")
    # Staff: the queue, the masked number, each photo; each view audited.
    s = staff_with(t, ROLE_COMPLIANCE)
    vid = pending_id(t, s, uid)
    assert_problem(s.get(f"{QUEUE}/{vid}"), 400, "invalid")  # a purpose is required
    v = s.get(f"{QUEUE}/{vid}?reason=real-name+review").json()
    eq((v["id_number_masked"], v["user_id"], v["same_document_accounts"]),
       ("110***********002X", uid, 0), "masked view")
    check(ID_OK not in str(v), "the full number is never shown")
    r = s.get(f"{QUEUE}/{vid}/photos/front?reason=real-name+review")
    eq((r.status, r.content_type), (200, "image/jpeg"), f"front photo ({r!r})")
    check(r.body[:3] == b"\xff\xd8\xff", "a JPEG")
    check(MARKER not in r.body and b"Exif" not in r.body, "re-encoded without metadata")
    eq(s.get(f"{QUEUE}/{vid}/photos/back?reason=real-name+review").status, 200, "back photo")
    eq(s.get(f"{QUEUE}/{vid}/photos/side?reason=real-name+review").status, 404, "no such side")
    eq(audit_rows(t, uid), [
        ("compliance", "staff.read_personal_data", "id_number_masked", "real-name review"),
        ("compliance", "staff.read_personal_data", "id_photo_front", "real-name review"),
        ("compliance", "staff.read_personal_data", "id_photo_back", "real-name review"),
    ], "every view audited: who, role, whose data, fields, purpose")
    actor = one(t, f"SELECT DISTINCT actor_id FROM audit_log WHERE subject_user_id = {uid} "
                   f"AND action = 'staff.read_personal_data'")
    eq(actor, str(s.user["id"]), "the staff member is named")
    # Approve: the member is told, sees the badge, and opens a board.
    eq(s.post(f"{QUEUE}/{vid}/decision", {"decision": "approve"}).status, 204, "approve")
    assert_problem(s.post(f"{QUEUE}/{vid}/decision", {"decision": "reject", "reason": "x"}),
                   409, "conflict")
    eq(m.get(ME).json()["verified"], True, "verified")
    eq(Client(t).get(f"/api/v1/users/{uid}").json()["verified"], True, "badge on the public page")
    eq(Client(t).get(f"/api/v1/users/{member(t).user['id']}").json()["verified"], False,
       "no badge for others")
    kinds = [n["kind"] for n in m.get("/api/v1/me/inbox").json()["items"]]
    check("verification.approved" in kinds, f"told in the inbox: {kinds}")
    assert_problem(put_photo(m, "front", png(64, 40)), 409, "conflict")
    r = m.post("/api/v1/boards", {"slug": slug, "name": "我的版块", "description": "实名会员的版块"})
    eq(r.status, 201, f"a verified member opens a board ({r!r})")
    mods = Client(t).get(f"/api/v1/boards/{slug}/moderators").json()
    eq(mods["owner"]["id"], uid, "and owns it")
    helper = member(t)
    eq(m.post(f"/api/v1/boards/{slug}/moderators", {"user_id": helper.user["id"]}).status, 204,
       "the owner appoints a moderator")
    assert_problem(helper.post(f"/api/v1/boards/{slug}/moderators",
                               {"user_id": member(t).user["id"]}), 403, "forbidden")


# ---------------------------------------------------------------- refusals

def test_rejection_gives_a_reason_and_allows_a_new_attempt(t):
    fresh(t)
    m, other = member(t), member(t)
    send_documents(t, m)
    s = staff_with(t, ROLE_SUPPORT)
    vid = pending_id(t, s, m.user["id"])
    p = assert_problem(s.post(f"{QUEUE}/{vid}/decision", {"decision": "reject"}), 400)
    eq(p["errors"][0]["field"], "reason", "a rejection needs a reason")
    eq(s.post(f"{QUEUE}/{vid}/decision", {"decision": "reject", "reason": "照片模糊"}).status,
       204, "reject")
    j = m.get(ME).json()
    eq((j["verified"], j["latest"]["status"], j["latest"]["reason"]),
       (False, "rejected", "照片模糊"), "the member sees why")
    assert_problem(m.post("/api/v1/boards", {"slug": "nope-" + str(m.user["id"]), "name": "x"}),
                   403, "forbidden")
    # A new attempt; another account sending the same document is flagged.
    send_documents(t, m, number=ID_OK2)
    send_documents(t, other, number=ID_OK2)
    vid2 = pending_id(t, s, other.user["id"])
    v = s.get(f"{QUEUE}/{vid2}?reason=duplicate+check").json()
    eq(v["same_document_accounts"], 1, "the same document on another account")
    eq(audit_rows(t, m.user["id"])[-1][1], "staff.verification_rejected", "decision audited")
    # Passports too.
    third = member(t)
    j = send_documents(t, third, number="E12345678", id_type="passport")
    eq(j["latest"]["id_number_masked"], "E******78", "passport masked")


def test_only_reviewing_staff_see_documents(t):
    fresh(t)
    m = member(t)
    send_documents(t, m)
    rev = staff_with(t, ROLE_SUPPORT)
    vid = pending_id(t, rev, m.user["id"])
    callers = ((staff_with(t, ROLE_OPERATIONS), 403), (member(t), 403), (m, 403),
               (Client(t), 401))
    before = one(t, "SELECT COUNT(*) FROM audit_log")
    for c, code in callers:
        assert_problem(c.get(QUEUE), code)
        assert_problem(c.get(f"{QUEUE}/{vid}?reason=curious"), code)
        assert_problem(c.get(f"{QUEUE}/{vid}/photos/front?reason=curious"), code)
        assert_problem(c.post(f"{QUEUE}/{vid}/decision", {"decision": "approve"}), code)
    eq(one(t, "SELECT COUNT(*) FROM audit_log"), before, "refused views leave no trace")
    eq(one(t, f"SELECT status FROM identity_verifications WHERE id = {vid}"), "pending",
       "nothing decided")
    # A draft is not the staff's to read.
    d = member(t)
    eq(put_photo(d, "front", png(32, 32)).status, 204, "draft photo")
    draft = one(t, f"SELECT id FROM identity_verifications WHERE user_id = {d.user['id']}")
    before = one(t, "SELECT COUNT(*) FROM audit_log")
    assert_problem(rev.get(f"{QUEUE}/{draft}?reason=review"), 404, "not-found")
    assert_problem(rev.get(f"{QUEUE}/{draft}/photos/front?reason=review"), 404, "not-found")
    assert_problem(rev.get(f"{QUEUE}/999999999?reason=review"), 404, "not-found")
    eq(one(t, "SELECT COUNT(*) FROM audit_log"), before, "and nothing audited")


def test_photos_must_be_real_images_of_their_type(t):
    fresh(t)
    m = member(t)
    before = t.db_counts()

    def refused(r, status, code=None):
        p = assert_problem(r, status, "unprocessable" if status == 422 else None)
        if code:
            check(any(e.get("field") == "front" and e.get("code") == code
                      for e in p.get("errors", [])), f"field front, code {code}: {p!r}")

    refused(put_photo(m, "front", png(32, 32), "image/jpeg"), 422, "image_type_mismatch")
    refused(put_photo(m, "front", b"GIF89a" + b"\x00" * 64, "image/png"), 422,
            "image_type_mismatch")
    refused(put_photo(m, "front", png(32, 32)[:40]), 422, "image_invalid")
    refused(put_photo(m, "front", png_bomb(9000)), 422, "image_too_many_pixels")
    refused(put_photo(m, "front", b""), 400)
    refused(put_photo(m, "front", png(32, 32), "image/gif"), 415)
    # Over the 8 MiB cap: 413 at once, before the body is sent.
    raw = t.raw()
    raw.send(f"PUT {ME}/photos/front HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png"
             f"\r\nContent-Length: {8 * 1024 * 1024 + 1}\r\nCookie: entrepot_session="
             f"{m.cookies['entrepot_session']}\r\nX-CSRF-Token: {m.csrf}\r\n\r\n")
    r = raw.read_response(timeout=5)
    check(r is not None, "no 413 for an oversize photo")
    assert_problem(r, 413, "too-large")
    eq(put_photo(m, "left", png(32, 32)).status, 404, "no such side")
    counts = t.db_counts()
    counts.pop("rate_limits", None)
    before.pop("rate_limits", None)
    eq(counts, before, "nothing stored")
    assert_problem(put_photo(Client(t), "front", png(32, 32)), 401, "unauthorized")


def test_staff_open_boards_without_owner_and_members_are_limited(t):
    fresh(t)
    b = new_board(t)  # made by an administrator
    eq(one(t, f"SELECT owner_id FROM boards WHERE id = {b['id']}"), "", "staff boards: no owner")
    eq(staff_with(t, ROLE_SUPPORT).post("/api/v1/boards", {"slug": "sup-" + str(int(
        time.time() * 1000)), "name": "x"}).status, 403, "support staff are not moderators")
    m = member(t)
    send_documents(t, m)
    s = staff_with(t, ROLE_COMPLIANCE)
    eq(s.post(f"{QUEUE}/{pending_id(t, s, m.user['id'])}/decision", {"decision": "approve"})
       .status, 204, "approve")
    for i in range(3):
        eq(m.post("/api/v1/boards", {"slug": f"m{m.user['id']}-{i}", "name": f"b{i}"}).status,
           201, f"board {i}")
    r = m.post("/api/v1/boards", {"slug": f"m{m.user['id']}-x", "name": "one too many"})
    assert_problem(r, 429, "rate-limited")
    db_write(t, "DELETE FROM rate_limits")
