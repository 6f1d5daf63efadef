"""The community's server-rendered pages (/community, /b/{slug}, /t/{id}):
the app's index.html with the page's title, description, canonical link,
Open Graph tags and text poured in, readable without JavaScript — and the
web app's editor routes (a post's Markdown source, the preview, my liked
posts).

Pages are read with a real HTML parser: what a crawler or a browser with
JavaScript off would see. Every test runs on both engines.
"""
import html.parser

from harness import assert_problem, check, eq
from test_accounts import Client, db_write, fresh, set_clock
from test_community import member, new_board, reply, staff, topic

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class Page(html.parser.HTMLParser):
    """What a page holds: <html lang>, <title>, meta/link tags of <head>,
    the text and elements of the server-rendered part (#ssr), its links."""

    VOID = {"meta", "link", "img", "br", "hr", "input", "source", "col", "area", "wbr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.title = ""
        self.meta = {}
        self.links = {}
        self.scripts = []
        self.ssr_depth = 0
        self.ssr_elements = []
        self.ssr_text = []
        self.h1 = []
        self.in_title = self.in_h1 = False
        self.feed(text)
        self.text = " ".join(" ".join(self.ssr_text).split())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "title":
            self.in_title = True
        elif tag == "meta" and ("name" in a or "property" in a):
            self.meta[a.get("name") or a.get("property")] = a.get("content")
        elif tag == "link" and "rel" in a:
            self.links[a["rel"]] = a.get("href")
        elif tag == "script":
            self.scripts.append(a.get("src"))
        if self.ssr_depth or a.get("id") == "ssr":
            self.ssr_elements.append((tag, attrs))
            if tag not in self.VOID:
                self.ssr_depth += 1
        if tag == "h1" and self.ssr_depth:
            self.in_h1 = True

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag == "h1":
            self.in_h1 = False
        if self.ssr_depth and tag not in self.VOID:
            self.ssr_depth -= 1

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        if self.ssr_depth:
            self.ssr_text.append(data)
        if self.in_h1:
            self.h1.append(data)

    def hrefs(self):
        return [dict(a).get("href") for tag, a in self.ssr_elements if tag == "a"]


def page(c, path, status=200, lang=None):
    """GETs a page as a browser would and parses it."""
    h = dict(HTML)
    if lang:
        h["Accept-Language"] = lang
    r = c.request("GET", path, headers=h)
    eq(r.status, status, f"GET {path} ({r!r})")
    check(r.content_type == "text/html", f"GET {path} is HTML ({r.content_type})")
    check("default-src 'self'" in (r.header("Content-Security-Policy") or ""),
          f"the app's CSP on {path}")
    return Page(r.text)


def assert_inert(p, what):
    """Nothing in the rendered part can run: no script, no handler, no javascript: URL."""
    for tag, attrs in p.ssr_elements:
        check(tag not in ("script", "iframe", "object", "embed", "style"), f"{what}: <{tag}>")
        for name, value in attrs:
            check(not name.lower().startswith("on"), f"{what}: {name}= on <{tag}>")
            check(not (value or "").strip().lower().startswith(("javascript:", "data:")),
                  f"{what}: {name}={value!r}")


# ---------------------------------------------------------------- topic pages

def test_topic_page_is_readable_without_javascript(t):
    fresh(t)
    b = new_board(t)
    m, other = member(t), member(t)
    title = '求购LED面板灯 <b>&"批发"</b>'
    body = ("**MOQ** 500pcs, FOB深圳 <script>alert(1)</script>\n\n"
            "[click](javascript:alert(2)) <img src=x onerror=alert(3)>")
    tp = topic(m, b["slug"], title=title, body=body, tags=["LED", "照明"])
    tid = tp["topic"]["id"]
    first_id = tp["first_post"]["id"]
    r1 = reply(other, tid, "有兴趣，请报价 & 寄样")
    reply(m, tid, "样品下周寄出", quote_post_id=r1["id"])
    api = Client(t).get(f"/api/v1/topics/{tid}").json()

    p = page(Client(t), f"/t/{tid}", lang="zh-CN,zh;q=0.9")
    eq(p.lang, "zh-Hans", "<html lang> is the reader's language")
    eq(p.title, f"{title} · entrepot", "<title> (escaped on the wire, the same text)")
    eq("".join(p.h1), title, "the title is the page's heading")
    eq(p.links.get("canonical"), f"/t/{tid}", "canonical link (relative without public_url)")
    eq(p.meta.get("og:type"), "article", "og:type")
    eq(p.meta.get("og:title"), p.title, "og:title")
    check("og:url" not in p.meta, "no og:url without an absolute public_url")
    desc = p.meta.get("description") or ""
    check(desc.startswith("MOQ 500pcs, FOB深圳"), f"meta description from the first post: {desc!r}")
    check("**" not in desc and "onerror" not in desc.split("<img")[0],
          f"the description is the post's text, not its Markdown: {desc!r}")
    eq(p.meta.get("og:description"), desc, "og:description")
    check("/assets/app-abc123.js" in p.scripts, "the app's own script stays, to take over")
    for text in ("MOQ", "FOB深圳", "有兴趣，请报价 & 寄样", "样品下周寄出", "#led", "#照明",
                 b["name"]):
        check(text in p.text, f"{text!r} is in the page's text: {p.text[:300]!r}")
    check("<script>alert(1)</script>" in p.text, "a script in the source shows as text")
    assert_inert(p, "topic page")
    raw = Client(t).request("GET", f"/t/{tid}", headers=HTML).text
    check("<script>alert" not in raw and "<b>&" not in raw,
          "no unescaped text anywhere (head included)")
    for post in [api["first_post"]] + api["replies"]:
        check(post["body_html"] in raw, f"post {post['id']}: the API's sanitised HTML, verbatim")
    hrefs = p.hrefs()
    for want in ("/community", f"/b/{b['slug']}", f"/b/{b['slug']}?tag=led",
                 f"/users/{m.user['id']}", f"#p{r1['id']}"):
        check(want in hrefs, f"link {want!r} in the page ({hrefs})")
    check(any(tag == "div" and dict(a).get("id") == f"p{first_id}" for tag, a in p.ssr_elements),
          "posts keep their #p<id> anchors")
    p = page(Client(t), f"/t/{tid}", lang="fr")
    eq(p.lang, "fr", "French reader")
    check("Réponses : 2" in p.text, f"labels in French: {p.text[:200]!r}")
    r = Client(t).request("HEAD", f"/t/{tid}", headers=HTML)
    eq((r.status, r.body), (200, b""), "HEAD: the status without the page")


def test_unknown_hidden_and_deleted_topics_are_not_found(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    hidden = topic(m, b["slug"], title="要隐藏的主题")["topic"]["id"]
    gone = topic(m, b["slug"], title="要删除的主题")
    db_write(t, f"UPDATE topics SET hidden = 1 WHERE id = {hidden}")
    r = m.request("DELETE", f"/api/v1/posts/{gone['first_post']['id']}")
    eq(r.status, 204, f"the author deletes the topic ({r!r})")
    for path, what in ((f"/t/{hidden}", "要隐藏的主题"), (f"/t/{gone['topic']['id']}", "要删除的主题"),
                       ("/t/999999999", None), ("/t/abc", None), ("/t/0", None),
                       ("/b/no-such-board", None)):
        for who in (Client(t), m):  # the page is the visitor's, even for the author
            p = page(who, path, status=404)
            eq("".join(p.h1), "Not found", f"{path}: the not-found page")
            check(what is None or what not in p.text and what not in p.title,
                  f"{path}: nothing of the topic shows")
            check("/community" in p.hrefs(), f"{path}: a way back")
    r = Client(t).request("GET", "/t/999999999", headers={"Accept": "application/json"})
    assert_problem(r, 404, "not-found")
    r = Client(t).request("POST", f"/t/{hidden}", headers=HTML)
    eq(r.status, 405, f"pages are read-only ({r!r})")


def test_pages_record_nothing_about_the_reader(t):
    fresh(t)
    b = new_board(t)
    m, reader = member(t), member(t)
    tid = topic(m, b["slug"])["topic"]["id"]
    page(reader, f"/t/{tid}")
    eq(reader.get("/api/v1/me/recent").json()["recent"], [],
       "a server-rendered page is the visitor's view: no 'recently viewed'")
    reader.get(f"/api/v1/topics/{tid}")
    eq([x["id"] for x in reader.get("/api/v1/me/recent").json()["recent"]], [tid],
       "the app's own API read records it (the check above can fail)")


def test_replies_and_topics_page_through_plain_links(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    tp = topic(m, b["slug"], title="二十一条回复")
    tid = tp["topic"]["id"]
    offset = 0
    try:
        for i in range(21):
            if i and i % 9 == 0:  # stay under the posting limit
                offset += 61000
                set_clock(t, offset)
            reply(m, tid, f"第{i + 1}条回复")
        p = page(Client(t), f"/t/{tid}")
        check("第20条回复" in p.text and "第21条回复" not in p.text, "20 replies on the first page")
        nxt = [h for h in p.hrefs() if h and h.startswith(f"/t/{tid}?cursor=")]
        eq(len(nxt), 1, f"one link to the next replies ({p.hrefs()})")
        p2 = page(Client(t), nxt[0])
        check("第21条回复" in p2.text and "第1条回复 " not in p2.text + " ",
              f"the next page: {p2.text[:200]!r}")
        eq(p2.links.get("canonical"), nxt[0], "each page of replies is its own address")
        check(not [h for h in p2.hrefs() if h and "cursor=" in h], "no link past the end")
        for i in range(21):
            if i % 9 == 0:
                offset += 61000
                set_clock(t, offset)
            topic(m, b["slug"], title=f"主题 {i:02d}", tags=["even"] if i % 2 == 0 else None)
        p = page(Client(t), f"/b/{b['slug']}")
        eq(p.title, f"{b['name']} · entrepot", "board title")
        eq(p.meta.get("description"), "外贸交流", "the board's description")
        eq(p.links.get("canonical"), f"/b/{b['slug']}", "board canonical")
        topics = [h for h in p.hrefs() if h and h.startswith("/t/")]
        eq(len(topics), 20, f"20 topics a page ({topics})")
        eq(topics[0], f"/t/{Client(t).get('/api/v1/boards/' + b['slug'] + '/topics').json()['topics'][0]['id']}",
           "the same order as the API")
        nxt = [h for h in p.hrefs() if h and h.startswith(f"/b/{b['slug']}?cursor=")]
        eq(len(nxt), 1, "a link to the next topics")
        p2 = page(Client(t), nxt[0])
        eq(len([h for h in p2.hrefs() if h and h.startswith("/t/")]), 2, "the other 2 topics")
        p = page(Client(t), f"/b/{b['slug']}?tag=even&utm_source=feed")
        eq(len([h for h in p.hrefs() if h and h.startswith("/t/")]), 11,
           "by tag (and a stranger's query parameter is ignored)")
        eq(p.links.get("canonical"), f"/b/{b['slug']}?tag=even", "canonical keeps the tag only")
        p = page(Client(t), f"/b/{b['slug']}?sort=top")
        eq([h for h in p.hrefs() if h and h.startswith("/t/")][0], f"/t/{tid}",
           "top: the topic with 21 replies first")
        for bad in ("sort=sideways", "cursor=garbage", "tag=%FF", "cursor=" + "9" * 60):
            p = page(Client(t), f"/b/{b['slug']}?{bad}", status=400)
            eq("".join(p.h1), "Invalid request", f"?{bad}: the page says so")
        page(Client(t), f"/t/{tid}?cursor=x", status=400)
    finally:
        set_clock(t, 0)


def test_community_home_lists_boards_and_latest_topics(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    try:  # later than anything other tests posted, even with their clocks moved
        set_clock(t, 20 * 60000)
        tid = topic(m, b["slug"], title="首页可见的主题 <i>")["topic"]["id"]
        p = page(Client(t), "/community")
    finally:
        set_clock(t, 0)
    eq(p.links.get("canonical"), "/community", "canonical")
    check(b["name"] in p.text and "首页可见的主题 <i>" in p.text,
          f"boards and latest topics: {p.text[:300]!r}")
    check(f"/b/{b['slug']}" in p.hrefs() and f"/t/{tid}" in p.hrefs(), "links to them")
    check(p.meta.get("description"), "a description")
    assert_inert(p, "home")


def test_public_url_makes_canonical_links_absolute(t):
    fresh(t)
    srv = t.start_server(env={"ENTREPOT_PUBLIC_URL": "https://forum.example.com/"})
    http = srv.http()
    s = staff(t, http=http, data_dir=srv.data_dir, database=srv.database)
    b = new_board(t, s)
    m = member(t, http=http)
    tid = topic(m, b["slug"])["topic"]["id"]
    p = page(Client(t, http=http), f"/t/{tid}")
    eq(p.links.get("canonical"), f"https://forum.example.com/t/{tid}", "absolute canonical")
    eq(p.meta.get("og:url"), f"https://forum.example.com/t/{tid}", "og:url")
    p = t.run_bin(["config", "check"], env={"ENTREPOT_PUBLIC_URL": "javascript:alert(1)"})
    check(p.returncode != 0 and "public_url" in p.stdout + p.stderr,
          f"a public_url that is not http(s) is refused ({p.stdout} {p.stderr})")


# ---------------------------------------------------------------- the editor's API

def test_post_source_follows_visibility(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    body = "# 标题\n\n**粗体** <b>raw</b>"
    tp = topic(m, b["slug"], title="源文本", body=body)
    tid, first = tp["topic"]["id"], tp["first_post"]["id"]
    rp = reply(m, tid, "回复的 *源*")
    r = Client(t).get(f"/api/v1/posts/{first}/source")
    eq(r.status, 200, f"source ({r!r})")
    eq(r.json(), {"post_id": first, "topic_id": tid, "body_md": body, "title": "源文本"},
       "the first post's source and title")
    eq(Client(t).get(f"/api/v1/posts/{rp['id']}/source").json()["title"], None, "a reply: no title")
    db_write(t, f"UPDATE topics SET hidden = 1 WHERE id = {tid}")
    assert_problem(Client(t).get(f"/api/v1/posts/{first}/source"), 404, "not-found")
    eq(m.get(f"/api/v1/posts/{first}/source").status, 200, "its author still sees it")
    db_write(t, f"UPDATE topics SET hidden = 0 WHERE id = {tid}")
    eq(m.request("DELETE", f"/api/v1/posts/{rp['id']}").status, 204, "delete the reply")
    assert_problem(m.get(f"/api/v1/posts/{rp['id']}/source"), 404, "not-found")
    assert_problem(Client(t).get("/api/v1/posts/999999999/source"), 404, "not-found")


def test_preview_renders_like_a_post_and_stores_nothing(t):
    fresh(t)
    m = member(t)
    before = t.db_counts()
    r = Client(t).post("/api/v1/community/preview", {"body": "**x**"})
    assert_problem(r, 401, "unauthorized")
    r = m.post("/api/v1/community/preview",
               {"body": "**MOQ** <script>alert(1)</script> [x](javascript:alert(2))"})
    eq(r.status, 200, f"preview ({r!r})")
    h = r.json()["html"]
    check("<strong>MOQ</strong>" in h, f"Markdown rendered: {h!r}")
    check("<script" not in h and "javascript:" not in h, f"inert: {h!r}")
    r = m.post("/api/v1/community/preview", {"body": "x" * 20001})
    eq(r.json()["errors"][0]["field"], "body", f"too long names the field ({r!r})")
    assert_problem(r, 400)
    assert_problem(m.post("/api/v1/community/preview", {}), 400)
    assert_problem(m.post("/api/v1/community/preview", {"body": "x"}, csrf=False), 403, "csrf")
    t.assert_storage_unchanged(before, "previews")


def test_my_likes_list_what_i_like(t):
    fresh(t)
    b = new_board(t)
    author, fan = member(t), member(t)
    tp = topic(author, b["slug"], title="值得一赞")
    first = tp["first_post"]["id"]
    assert_problem(Client(t).get("/api/v1/me/likes"), 401, "unauthorized")
    eq(fan.get("/api/v1/me/likes").json(), {"likes": []}, "nothing yet")
    eq(fan.post(f"/api/v1/posts/{first}/like").status, 204, "like")
    likes = fan.get("/api/v1/me/likes").json()["likes"]
    eq([(x["post_id"], x["topic_id"], x["title"], x["board"]["slug"]) for x in likes],
       [(first, tp["topic"]["id"], "值得一赞", b["slug"])], "the liked post")
    eq(author.get("/api/v1/me/likes").json()["likes"], [], "only mine")
    db_write(t, f"UPDATE topics SET hidden = 1 WHERE id = {tp['topic']['id']}")
    eq(fan.get("/api/v1/me/likes").json()["likes"], [], "a hidden topic drops out")
    db_write(t, f"UPDATE topics SET hidden = 0 WHERE id = {tp['topic']['id']}")
    eq(fan.request("DELETE", f"/api/v1/posts/{first}/like").status, 204, "unlike")
    eq(fan.get("/api/v1/me/likes").json()["likes"], [], "gone after unlike")
