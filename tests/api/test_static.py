"""Static files of the web app: index, hashed assets, caching, SPA fallback,
HEAD, and path traversal that must never escape the static root."""
import os

from harness import ASSET_MARK, CSS_MARK, INDEX_MARK, SECRET_MARK, check, eq

ASSET = "/assets/app-abc123.js"


def _cache(r):
    return (r.header("Cache-Control") or "").lower()


def test_index(t):
    r = t.http.get("/")
    eq(r.status, 200, "GET /")
    eq(r.content_type, "text/html", "content type")
    check(INDEX_MARK in r.text, f"GET / is not our index.html: {r!r}")
    with open(os.path.join(t.static_dir, "index.html"), "rb") as f:
        eq(r.body, f.read(), "index bytes")
    check("no-cache" in _cache(r) or "no-store" in _cache(r),
          f"index Cache-Control {r.header('Cache-Control')!r} lacks no-cache")
    check("immutable" not in _cache(r), "index must not be immutable")
    check(r.header("ETag"), "index has no ETag")


def test_index_revalidates_with_etag(t):
    r = t.http.get("/")
    etag = r.header("ETag")
    check(etag, "no ETag")
    r2 = t.http.get("/", headers={"If-None-Match": etag})
    eq(r2.status, 304, "If-None-Match on /")
    eq(r2.body, b"", "304 body")


def test_asset_immutable_with_etag_and_304(t):
    r = t.http.get(ASSET)
    eq(r.status, 200, "asset status")
    check(r.content_type in ("text/javascript", "application/javascript"),
          f"asset content type {r.header('Content-Type')!r}")
    check(ASSET_MARK in r.text, "asset content")
    cc = _cache(r)
    check("max-age=31536000" in cc and "immutable" in cc, f"asset Cache-Control {cc!r}")
    etag = r.header("ETag")
    check(etag, "asset has no ETag")
    eq(t.http.get(ASSET).header("ETag"), etag, "ETag is stable")
    r2 = t.http.get(ASSET, headers={"If-None-Match": etag})
    eq(r2.status, 304, "If-None-Match with the ETag")
    eq(r2.body, b"", "304 body")
    eq(r2.header("ETag"), etag, "304 repeats the ETag")
    r3 = t.http.get(ASSET, headers={"If-None-Match": '"something-else"'})
    eq(r3.status, 200, "If-None-Match with another ETag")
    r4 = t.http.get(ASSET, headers={"If-None-Match": f'"nope", {etag}'})
    eq(r4.status, 304, "If-None-Match with a list containing the ETag")
    check(t.http.get("/").header("ETag") != etag, "index and asset share an ETag")


def test_css_content_type(t):
    r = t.http.get("/assets/app-abc123.css")
    eq(r.status, 200, "css status")
    eq(r.content_type, "text/css", "css content type")
    check(CSS_MARK in r.text, "css content")


def test_spa_fallback(t):
    for path in ("/community/x", "/settings", "/a/b/c/d", "/community/x?tab=1", "/fr/accueil"):
        r = t.http.get(path)
        eq(r.status, 200, f"GET {path}")
        eq(r.content_type, "text/html", f"{path} content type")
        check(INDEX_MARK in r.text, f"{path} did not fall back to index.html")
        check("immutable" not in _cache(r), f"{path}: fallback must not be cached immutably")


def test_head(t):
    for path in ("/", ASSET, "/community/x"):
        g = t.http.get(path)
        h = t.http.head(path)
        eq(h.status, 200, f"HEAD {path}")
        eq(h.body, b"", f"HEAD {path} body")
        eq(h.header("Content-Type"), g.header("Content-Type"), f"HEAD {path} content type")
        cl = h.header("Content-Length")
        check(cl is not None and int(cl) == len(g.body),
              f"HEAD {path}: Content-Length {cl!r}, GET body is {len(g.body)} bytes")
    # On the wire too: no body bytes after a HEAD response.
    raw = t.raw()
    raw.send(f"HEAD {ASSET} HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    r1 = raw.read_response(head=True)
    r2 = raw.read_response()
    check(r1 is not None and r1.status == 200, f"pipelined HEAD: {r1!r}")
    check(r2 is not None and r2.status == 200 and r2.json() == {"status": "ok"},
          f"request after HEAD was corrupted by body bytes: {r2!r}")


TRAVERSALS = [
    "/../secret.txt", "/../../../../../../etc/passwd", "/assets/../../secret.txt",
    "/%2e%2e/secret.txt", "/%2E%2E/%2E%2E/etc/passwd", "/assets/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..%5csecret.txt", "/assets/..\\..\\secret.txt", "/%252e%252e/secret.txt",
    "/.%2e/secret.txt", "/assets/%2e%2e%2fapp-abc123.js/../../secret.txt",
    "//etc/passwd", "/assets//../../secret.txt", "/%c0%ae%c0%ae/secret.txt",
    "/assets/%00../../secret.txt", "/..;/secret.txt", "/./../secret.txt",
]


def test_path_traversal_never_escapes(t):
    with open("/etc/passwd") as f:
        passwd_line = f.readline().strip()
    for path in TRAVERSALS:
        raw = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        resp = t.raw_request(raw)
        if resp is None:
            continue  # closed: nothing leaked
        body = resp.body.decode("utf-8", "replace")
        check(SECRET_MARK not in body, f"{path} served the file outside the static root")
        check(passwd_line not in body and "root:x:0:0" not in body, f"{path} served /etc/passwd")
        check(resp.status in (400, 403, 404) or (resp.status == 200 and INDEX_MARK in body)
              or resp.status in (301, 308),
              f"{path}: unexpected {resp!r}")
    # Absolute-form target.
    resp = t.raw_request("GET http://127.0.0.1/../secret.txt HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n")
    check(resp is None or SECRET_MARK not in resp.text, "absolute-form traversal leaked")


def test_no_directory_listing_or_dotfiles(t):
    hidden = os.path.join(t.static_dir, ".hidden")
    with open(hidden, "w") as f:
        f.write("HIDDEN-DOTFILE\n")
    try:
        for path in ("/assets/", "/assets", "/.hidden", "/assets/.", "/."):
            r = t.http.get(path)
            check("app-abc123.css" not in r.text, f"{path} lists the directory: {r!r}")
            check("HIDDEN-DOTFILE" not in r.text, f"{path} served a dotfile")
            check(r.status in (200, 301, 308, 403, 404), f"{path}: {r!r}")
    finally:
        os.unlink(hidden)


def test_missing_asset_is_not_index(t):
    # A stale hashed asset must not be answered with HTML under an immutable
    # cache header (the browser would cache the index as JavaScript).
    r = t.http.get("/assets/app-000000.js")
    if r.status == 200:
        check("immutable" not in _cache(r), f"missing asset served with immutable cache: {r!r}")
        check(r.content_type == "text/html", f"missing asset served as {r.content_type}")
    else:
        eq(r.status, 404, f"missing asset ({r!r})")
