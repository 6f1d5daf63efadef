/*
 * demo.c — a synthetic foreign-trade community for demonstrations and
 * benchmarks (`entrepot demo --scale N`): boards, members, N topics with
 * their replies, tags and likes, in mixed Simplified Chinese, English and
 * some Traditional Chinese, indexed for search exactly as posted text is.
 *
 * The decision to know: rows are written with plain prepared INSERTs in
 * large transactions (DEMO_BATCH topics each), not through the posting
 * functions, which open a transaction and check limits for every post;
 * but every derived value goes through the same code as a real post
 * (Markdown rendering, search normalisation, counters), so the data is
 * what the application would have written. Text comes from templates
 * filled from built-in word lists by a seeded generator: the same seed
 * makes the same community.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"

#define DEMO_BATCH      2000 /* topics a transaction */
#define DEMO_SPAN_MS    (365LL * 86400 * 1000)
#define DEMO_TEXT_CAP   (16 * 1024)
#define DEMO_MAX_USERS  20000
#define DEMO_MIN_USERS  50
#define DEMO_TOPIC_TAGS 3

/* ---------------------------------------------------------------- randomness */

struct rng {
    uint64_t s;
};

/* splitmix64: small, fast, and good enough for made-up text. */
static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int64_t below(struct rng *r, int64_t n)
{
    return n > 0 ? (int64_t)(rnd(r) % (uint64_t)n) : 0;
}

#define PICK(r, list) ((list)[below((r), (int64_t)(sizeof(list) / sizeof((list)[0])))])

/* ---------------------------------------------------------------- word lists */

static const char *const CITY[] = {
    "深圳", "广州", "义乌", "宁波", "上海", "青岛", "厦门", "东莞", "佛山", "苏州",
    "天津", "杭州", "泉州", "温州", "中山", "越南", "印度", "德国", "巴西", "迪拜",
};
static const char *const PRODUCT[] = {
    "LED面板灯", "太阳能板", "蓝牙耳机",   "手机壳",   "不锈钢餐具", "陶瓷杯",     "实木家具",
    "女装",      "涤纶面料", "运动鞋",     "毛绒玩具", "五金工具",   "汽车配件",   "电动滑板车",
    "锂电池",    "充电器",   "监控摄像头", "塑料瓶",   "化妆品",     "绿茶",       "咖啡机",
    "空气炸锅",  "瑜伽垫",   "帐篷",       "行李箱",   "宠物用品",   "光伏逆变器", "水泵",
};
static const char *const TERM[] = {
    "报价",   "样品", "起订量", "交期",   "信用证", "电汇",     "定金", "尾款",
    "海运费", "报关", "清关",   "退税",   "提单",   "原产地证", "验货", "包装",
    "认证",   "汇率", "询盘",   "海外仓", "拼箱",   "整柜",     "关税", "售后",
};
static const char *const PARTY[] = {"工厂", "供应商", "货代", "客户", "外贸公司", "采购商"};
static const char *const PAYMENT[] = {"T/T", "L/C", "PayPal", "西联", "30%定金70%尾款"};
static const char *const ASK[] = {"大家怎么看？", "有没有靠谱的推荐？", "求指点。",
                                  "急，在线等。", "谢谢各位！",         "欢迎私信交流。"};

static const char *const CITY_EN[] = {"Shenzhen", "Guangzhou",   "Yiwu",    "Ningbo", "Shanghai",
                                      "Hamburg",  "Rotterdam",   "Dubai",   "Lagos",  "Santos",
                                      "Chennai",  "Ho Chi Minh", "Mombasa", "Jeddah"};
static const char *const PRODUCT_EN[] = {
    "LED panel lights",  "solar panels",      "bluetooth earbuds", "phone cases",
    "stainless cutlery", "ceramic mugs",      "wooden furniture",  "polyester fabric",
    "running shoes",     "plush toys",        "hand tools",        "auto parts",
    "e-scooters",        "lithium batteries", "USB chargers",      "CCTV cameras",
    "PET bottles",       "green tea",         "air fryers",        "yoga mats",
};
static const char *const TERM_EN[] = {
    "quotation", "samples",     "MOQ",     "lead time", "letter of credit", "shipping",
    "customs",   "clearance",   "invoice", "freight",   "warranty",         "inspection",
    "packaging", "certificate", "deposit", "tariff",    "container",        "incoterms",
};
static const char *const PAY_EN[] = {"T/T", "L/C at sight", "PayPal", "30% deposit", "DP"};

/* Traditional Chinese, as members in Taiwan and Hong Kong write. */
static const char *const CITY_T[] = {"臺北", "高雄", "臺中", "香港", "新竹", "廣州", "東莞"};
static const char *const PRODUCT_T[] = {"LED燈條", "電動車",   "監視器", "麵包機",
                                        "螺絲",    "機車零件", "運動鞋", "藍牙喇叭"};
static const char *const TERM_T[] = {"報價", "樣品", "交貨期", "匯款",
                                     "報關", "運費", "驗貨",   "包裝"};

static const char *const TAGS[] = {
    "外贸",   "出口",     "进口",     "报价", "样品",    "物流",    "货代", "报关", "退税", "展会",
    "广交会", "亚马逊",   "独立站",   "支付", "汇率",    "认证",    "工厂", "采购", "led",  "solar",
    "fba",    "shipping", "sourcing", "b2b",  "alibaba", "customs", "fob",  "cif",  "moq",  "oem",
};

static const struct {
    const char *slug, *name, *desc;
} BOARDS[] = {
    {"trade-talk", "外贸综合", "外贸从业者的日常交流 · General talk about foreign trade"},
    {"sourcing", "工厂与采购", "找工厂、找货源、验厂验货 · Factories and sourcing"},
    {"logistics", "物流货代", "海运、空运、快递与海外仓 · Shipping and forwarding"},
    {"customs", "报关清关", "报关、清关、关税与退税 · Customs, duties and tax refunds"},
    {"payments", "收款与外汇", "信用证、电汇、汇率与风控 · Payments and currency"},
    {"ecommerce", "跨境电商", "亚马逊、独立站与平台运营 · Cross-border e-commerce"},
    {"fairs", "展会信息", "广交会与海外展会 · Trade fairs"},
    {"legal", "法律与合规", "合同、认证、知识产权 · Contracts and compliance"},
    {"market-dev", "市场开发", "开发客户、询盘与谈判 · Finding and keeping buyers"},
    {"newcomers", "新手入门", "外贸新人提问专区 · Questions from newcomers"},
    {"taiwan-hk", "臺港交流", "臺灣與香港會員的交流區 · Taiwan and Hong Kong"},
    {"english", "English corner", "Discussion in English for buyers abroad"},
};
#define NBOARDS ((int64_t)(sizeof BOARDS / sizeof BOARDS[0]))

static const char *const NAMES[] = {
    "张伟", "王芳",  "李娜",  "刘洋",     "陈静",   "杨磊",   "赵敏", "黄强",  "周杰",
    "吴霞", "林晓",  "郭涛",  "何雪",     "高峰",   "罗琳",   "Anna", "David", "Maria",
    "Omar", "Priya", "Lucas", "Chen Wei", "Nguyen", "Fatima", "Ivan", "Sofia", "Kenji",
};

/* ---------------------------------------------------------------- text */

/* Templates: {c} city, {p} product, {t} term, {y} payment, {a} party,
 * {q} closing question, {n} a number; {C} {P} {T} {Y}: English; {m} {k}
 * {u}: Traditional Chinese city, product, term. */
static const char *const TITLE_ZH[] = {
    "求购{p}，{c}优先",   "{c}{a}供应{p}，支持小批量", "{p}的{t}怎么谈？",
    "关于{t}和{t}的问题", "{c}到{c}的{t}大概多少？",   "新人求助：{p}第一次出口",
    "{y}付款安全吗？",    "分享：{p}{t}经验",          "{a}不回复{t}怎么办",
    "{p}市场{c}行情如何",
};
static const char *const TITLE_EN[] = {
    "Looking for {P} supplier in {C}", "{T} question for {P}",
    "Best {Y} terms for new buyers?",  "{C} to {C}: {T} for one container",
    "Experience with {P} from {C}",
};
static const char *const TITLE_T[] = {"請問{k}的{u}", "{m}找{k}工廠", "{u}問題請教各位"};

static const char *const SENT_ZH[] = {
    "我们是{c}的{p}{a}，{t}可以谈。",  "客户要求{t}，{y}付款，交期{n}天。",
    "{c}这边{p}价格最近涨了{n}%。",    "请问有没有做{p}的{a}？{q}",
    "{t}已经发了，{a}说还要等{n}天。", "第一次做{p}，{t}和{t}都不太懂。",
    "建议先确认{t}，再谈{t}。",        "我们走{c}港，{t}一般{n}美元左右。",
    "起订量{n}件，可以先寄{t}。",      "{a}报的{t}比{c}贵不少，{q}",
};
static const char *const SENT_EN[] = {
    "We need {n} pcs of {P}, {Y} payment.",     "Our factory in {C} can offer {T} within {n} days.",
    "Please send the {T} and {T} by email.",    "Has anyone shipped {P} to {C} recently?",
    "The {T} was {n} USD per unit last month.",
};
static const char *const SENT_T[] = {"我們在{m}做{k}，{u}可以再談。", "請問{u}大概需要幾天？",
                                     "{k}的{u}比去年高了{n}%。"};
static const char *const REPLY[] = {
    "有兴趣，请联系。",
    "谢谢分享，很有用！",
    "我们也遇到过，建议先确认{t}。",
    "{c}这边可以做，私信。",
    "顶一下。",
    "价格还能再谈吗？",
    "Which port do you ship from?",
    "Thanks, very helpful.",
    "We can supply {P}, please check your inbox.",
    "感謝分享，{u}很重要。",
    "{t}一般要{n}天左右。",
    "同问，{p}的{t}怎么算？",
};

/* Appends template tpl with its slots filled. */
static void fill(struct buf *b, struct rng *r, const char *tpl)
{
    for (const char *p = tpl; *p; p++) {
        if (p[0] != '{' || !p[1] || p[2] != '}') {
            buf_putc(b, *p);
            continue;
        }
        switch (p[1]) {
        case 'c':
            buf_puts(b, PICK(r, CITY));
            break;
        case 'p':
            buf_puts(b, PICK(r, PRODUCT));
            break;
        case 't':
            buf_puts(b, PICK(r, TERM));
            break;
        case 'y':
            buf_puts(b, PICK(r, PAYMENT));
            break;
        case 'a':
            buf_puts(b, PICK(r, PARTY));
            break;
        case 'q':
            buf_puts(b, PICK(r, ASK));
            break;
        case 'n':
            buf_printf(b, "%lld", (long long)(5 + below(r, 995)));
            break;
        case 'C':
            buf_puts(b, PICK(r, CITY_EN));
            break;
        case 'P':
            buf_puts(b, PICK(r, PRODUCT_EN));
            break;
        case 'T':
            buf_puts(b, PICK(r, TERM_EN));
            break;
        case 'Y':
            buf_puts(b, PICK(r, PAY_EN));
            break;
        case 'm':
            buf_puts(b, PICK(r, CITY_T));
            break;
        case 'k':
            buf_puts(b, PICK(r, PRODUCT_T));
            break;
        case 'u':
            buf_puts(b, PICK(r, TERM_T));
            break;
        default:
            buf_putc(b, *p);
            continue;
        }
        p += 2;
    }
}

/* The language of a topic: 0 Simplified, 1 English, 2 Traditional. The
 * board named for a language gets mostly that one. */
static int topic_lang(struct rng *r, int64_t board)
{
    if (strcmp(BOARDS[board].slug, "english") == 0)
        return below(r, 10) < 8 ? 1 : 0;
    if (strcmp(BOARDS[board].slug, "taiwan-hk") == 0)
        return below(r, 10) < 8 ? 2 : 0;
    int64_t x = below(r, 100);
    return x < 65 ? 0 : x < 90 ? 1 : 2;
}

static void sentence(struct buf *b, struct rng *r, int lang)
{
    if (lang == 1)
        fill(b, r, PICK(r, SENT_EN));
    else if (lang == 2)
        fill(b, r, PICK(r, SENT_T));
    else
        fill(b, r, PICK(r, SENT_ZH));
}

static void make_title(struct buf *b, struct rng *r, int lang)
{
    buf_reset(b);
    fill(b, r, lang == 1 ? PICK(r, TITLE_EN) : lang == 2 ? PICK(r, TITLE_T) : PICK(r, TITLE_ZH));
}

/* A topic's Markdown: a few paragraphs, now and then a list or bold text. */
static void make_body(struct buf *b, struct rng *r, int lang)
{
    buf_reset(b);
    int64_t paras = 1 + below(r, 3);
    for (int64_t i = 0; i < paras; i++) {
        if (i)
            buf_puts(b, "\n\n");
        int64_t n = 1 + below(r, 3);
        for (int64_t k = 0; k < n; k++) {
            if (k && lang == 1)
                buf_putc(b, ' ');
            sentence(b, r, lang);
        }
    }
    int64_t extra = below(r, 10);
    if (extra < 2) {
        buf_puts(b, "\n\n");
        for (int k = 0; k < 3; k++) {
            buf_puts(b, "- ");
            fill(b, r, lang == 1 ? "{P}: {n} USD" : "{p}：{n}美元");
            buf_putc(b, '\n');
        }
    } else if (extra < 4) {
        buf_puts(b, "\n\n**");
        fill(b, r, lang == 1 ? "{T}" : "{t}");
        buf_puts(b, "** ");
        sentence(b, r, lang);
    }
}

static void make_reply(struct buf *b, struct rng *r, int lang)
{
    buf_reset(b);
    fill(b, r, PICK(r, REPLY));
    if (below(r, 3) == 0) {
        buf_putc(b, ' ');
        sentence(b, r, lang);
    }
}

/* ---------------------------------------------------------------- writing */

struct demo {
    struct db_conn *c;
    struct rng r;
    int64_t board_ids[NBOARDS];
    int64_t tag_ids[sizeof TAGS / sizeof TAGS[0]];
    int64_t *users;
    int64_t nusers;
    struct buf title, body, tags;
    struct cm_demo_result *res;
};

static enum st demo_boards(struct demo *d, int64_t now)
{
    enum st st = ST_OK;
    for (int64_t i = 0; i < NBOARDS && st == ST_OK; i++) {
        st = cm_exec(d->c, NULL,
                     "INSERT INTO boards (slug, name, description, position, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
                     "tttiii", BOARDS[i].slug, BOARDS[i].name, BOARDS[i].desc, i + 1,
                     now - DEMO_SPAN_MS, now);
        if (st == ST_OK)
            st = cm_query_int(d->c, &d->board_ids[i], "SELECT id FROM boards WHERE slug = ?", "t",
                              BOARDS[i].slug);
    }
    d->res->boards = NBOARDS;
    for (size_t i = 0; i < sizeof TAGS / sizeof TAGS[0] && st == ST_OK; i++) {
        st = cm_exec(d->c, NULL,
                     "INSERT INTO tags (name, topic_count, created_at) VALUES (?, 0, ?) "
                     "ON CONFLICT (name) DO NOTHING",
                     "ti", TAGS[i], now);
        if (st == ST_OK)
            st = cm_query_int(d->c, &d->tag_ids[i], "SELECT id FROM tags WHERE name = ?", "t",
                              TAGS[i]);
    }
    return st;
}

/* Members: a display name, a username, a data key; no way to sign in. */
static enum st demo_users(struct demo *d, int64_t now)
{
    int64_t base = 0;
    enum st st =
        cm_query_int(d->c, &base, "SELECT COUNT(*) FROM users WHERE username LIKE ?", "t", "demo%");
    for (int64_t i = 0; i < d->nusers && st == ST_OK; i++) {
        char uname[32], name[64];
        snprintf(uname, sizeof uname, "demo%lld", (long long)(base + i + 1));
        snprintf(name, sizeof name, "%s %lld", PICK(&d->r, NAMES), (long long)(base + i + 1));
        st = cm_query_int(d->c, &d->users[i],
                          "INSERT INTO users (username, display_name, public_fields, created_at, "
                          "updated_at) VALUES (?, ?, '[]', ?, ?) RETURNING id",
                          "ttii", uname, name, now - DEMO_SPAN_MS, now);
        unsigned char dk[CRYPTO_DATAKEY_BYTES], *wrapped = NULL;
        size_t wlen = 0;
        if (st == ST_OK)
            st = crypto_datakey_new(d->users[i], dk, &wrapped, &wlen);
        sodium_memzero(dk, sizeof dk);
        if (st == ST_OK)
            st = cm_exec(d->c, NULL, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)",
                         "ib", d->users[i], wrapped, wlen);
        free(wrapped);
    }
    d->res->users = d->nusers;
    return st;
}

/* One post with its search row and likes; *likes gets their number. */
static enum st demo_post(struct demo *d, int64_t topic_id, int64_t author, int64_t pos,
                         int64_t parent, const char *title, const char *md, int64_t at,
                         int64_t *likes)
{
    char *html = NULL, *text = NULL;
    enum st st = community_markdown(md, strlen(md), &html, &text);
    /* Likes: a few members, none twice, never the author. */
    int64_t n = pos == 0 ? below(&d->r, 7) : (below(&d->r, 4) == 0 ? 1 + below(&d->r, 2) : 0);
    if (n > d->nusers - 1)
        n = d->nusers - 1;
    int64_t post_id = 0;
    if (st == ST_OK)
        st = cm_query_int(d->c, &post_id,
                          "INSERT INTO posts (topic_id, author_id, position, parent_id, body_md, "
                          "body_html, like_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
                          "?, ?, ?, ?) RETURNING id",
                          "iiiIttiii", topic_id, author, pos, parent, md, html, n, at, at);
    if (st == ST_OK)
        st = cm_index_text(d->c, post_id, title, text);
    int64_t start = below(&d->r, d->nusers), step = 1 + below(&d->r, 7);
    for (int64_t k = 0, idx = start; k < n && st == ST_OK; idx = (idx + step) % d->nusers) {
        if (d->users[idx] == author)
            continue;
        st = cm_exec(d->c, NULL,
                     "INSERT INTO post_likes (post_id, user_id, created_at) VALUES (?, ?, ?) "
                     "ON CONFLICT DO NOTHING",
                     "iii", post_id, d->users[idx], at + 60000);
        k++;
    }
    free(html);
    free(text);
    *likes = n;
    d->res->posts++;
    d->res->likes += n;
    return st;
}

static enum st demo_topic(struct demo *d, const struct cm_demo *o, int64_t i, int64_t t0)
{
    struct rng *r = &d->r;
    int64_t board = below(r, NBOARDS);
    int lang = topic_lang(r, board);
    int64_t author = d->users[below(r, d->nusers)];
    int64_t at = t0 + i * (DEMO_SPAN_MS / (o->topics + 1)) + below(r, 60000);
    /* Replies come within two days; the last one is the topic's activity. */
    int64_t reply_at[64], nrep = o->replies < 64 ? o->replies : 64, last = at;
    for (int64_t k = 0; k < nrep; k++)
        reply_at[k] = last += 60000 + below(r, 172800000 / (nrep + 1));
    /* Tags: up to DEMO_TOPIC_TAGS distinct ones. */
    size_t tagidx[DEMO_TOPIC_TAGS];
    int64_t ntags = below(r, DEMO_TOPIC_TAGS + 1);
    buf_reset(&d->tags);
    buf_putc(&d->tags, '[');
    for (int64_t k = 0; k < ntags; k++) {
        size_t t = (size_t)below(r, (int64_t)(sizeof TAGS / sizeof TAGS[0]));
        for (int64_t j = 0; j < k; j++)
            if (tagidx[j] == t) { /* taken: the next one, and check again */
                t = (t + 1) % (sizeof TAGS / sizeof TAGS[0]);
                j = -1;
            }
        tagidx[k] = t;
        buf_printf(&d->tags, "%s\"%s\"", k ? "," : "", TAGS[t]);
    }
    buf_putc(&d->tags, ']');
    make_title(&d->title, r, lang);
    make_body(&d->body, r, lang);
    int64_t topic_id = 0, likes = 0, all_likes = 0;
    enum st st = cm_query_int(d->c, &topic_id,
                              "INSERT INTO topics (board_id, author_id, title, tags, reply_count, "
                              "score, last_post_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
                              "?, ?, ?, ?) RETURNING id",
                              "iittiiiii", d->board_ids[board], author, d->title.data, d->tags.data,
                              nrep, nrep, last, at, last);
    for (int64_t k = 0; k < ntags && st == ST_OK; k++)
        st = cm_exec(d->c, NULL, "INSERT INTO topic_tags (topic_id, tag_id) VALUES (?, ?)", "ii",
                     topic_id, d->tag_ids[tagidx[k]]);
    if (st == ST_OK)
        st = demo_post(d, topic_id, author, 0, 0, d->title.data, d->body.data, at, &likes);
    all_likes += likes;
    int64_t first_reply = 0;
    for (int64_t k = 0; k < nrep && st == ST_OK; k++) {
        make_reply(&d->body, r, lang);
        /* Every third reply answers the first one (one level of threading). */
        int64_t parent = k > 0 && below(r, 3) == 0 ? first_reply : 0;
        st = demo_post(d, topic_id, d->users[below(r, d->nusers)], k + 1, parent, NULL,
                       d->body.data, reply_at[k], &likes);
        if (st == ST_OK && k == 0)
            st = cm_query_int(d->c, &first_reply,
                              "SELECT id FROM posts WHERE topic_id = ? AND position = 1", "i",
                              topic_id);
        all_likes += likes;
    }
    if (st == ST_OK && all_likes)
        st = cm_exec(d->c, NULL, "UPDATE topics SET like_count = ?, score = score + ? WHERE id = ?",
                     "iii", all_likes, all_likes, topic_id);
    d->res->topics++;
    return st;
}

/* Counters of boards and tags from what is stored, once at the end. */
static enum st demo_counters(struct db_conn *c)
{
    enum st st = cm_exec(c, NULL,
                         "UPDATE boards SET topic_count = (SELECT COUNT(*) FROM topics t WHERE "
                         "t.board_id = boards.id AND t.deleted_at IS NULL), post_count = (SELECT "
                         "COALESCE(SUM(t.reply_count + 1), 0) FROM topics t WHERE t.board_id = "
                         "boards.id AND t.deleted_at IS NULL), last_post_at = (SELECT "
                         "MAX(t.last_post_at) FROM topics t WHERE t.board_id = boards.id)",
                         "");
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE tags SET topic_count = (SELECT COUNT(*) FROM topic_tags tt WHERE "
                     "tt.tag_id = tags.id)",
                     "");
    return st;
}

enum st community_demo(struct db *db, const struct cm_demo *o, struct cm_demo_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->topics < 1 || o->replies < 0 || o->replies > 60)
        return ST_INVALID;
    struct demo d = {.r = {.s = o->seed}, .res = r};
    d.nusers = o->topics / 50;
    d.nusers = d.nusers < DEMO_MIN_USERS ? DEMO_MIN_USERS : d.nusers;
    d.nusers = d.nusers > DEMO_MAX_USERS ? DEMO_MAX_USERS : d.nusers;
    d.users = xcalloc((size_t)d.nusers, sizeof *d.users);
    buf_init(&d.title, DEMO_TEXT_CAP);
    buf_init(&d.body, DEMO_TEXT_CAP);
    buf_init(&d.tags, DEMO_TEXT_CAP);
    enum st st = db_acquire(db, &d.c);
    if (st != ST_OK)
        goto out;
    if (db_kind(db) == DB_SQLITE)
        db_exec(d.c, "PRAGMA cache_size = -262144"); /* 256 MiB while it writes */
    int64_t now = clock_now_ms(), t0 = now - DEMO_SPAN_MS;
    st = db_begin(d.c);
    if (st == ST_OK)
        st = demo_boards(&d, now);
    if (st == ST_OK)
        st = demo_users(&d, now);
    st = cm_finish(d.c, st);
    for (int64_t i = 0; i < o->topics && st == ST_OK;) {
        st = db_begin(d.c);
        for (int64_t k = 0; k < DEMO_BATCH && i < o->topics && st == ST_OK; k++, i++)
            st = demo_topic(&d, o, i, t0);
        st = cm_finish(d.c, st);
        if (st == ST_OK && o->progress)
            o->progress(o->arg, r->topics, r->posts);
    }
    if (st == ST_OK)
        st = db_begin(d.c);
    if (st == ST_OK)
        st = cm_finish(d.c, demo_counters(d.c));
    /* Compact the search index and refresh the planner's statistics. */
    if (st == ST_OK && db_kind(db) == DB_SQLITE)
        st = db_exec(d.c, "INSERT INTO post_fts (post_fts) VALUES ('optimize'); ANALYZE");
    else if (st == ST_OK)
        st = db_exec(d.c, "ANALYZE");
    db_release(d.c);
out:
    buf_free(&d.title);
    buf_free(&d.body);
    buf_free(&d.tags);
    free(d.users);
    return st;
}
