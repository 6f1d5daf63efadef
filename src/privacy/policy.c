/*
 * policy.c — policy versions, consent receipts, the consent gate and the
 * notices of a new version (consent.h explains the promises).
 *
 * The design decision: "in force" is computed, never stored. The version
 * of a document in force at time t is the highest version number whose
 * effective_at <= t; a user's standing is the highest version they
 * accepted, explicitly (a receipt) or by registering while it was in force.
 * The gate is closed for a document when the newest material version in
 * force is above that standing. Everything is a pure function of
 * immutable rows and the clock, so a version published to take effect
 * next week closes the gate next week with nothing to schedule, on every
 * node, and tests only move the clock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "consent_int.h"
#include "core/i18n.h"
#include "jobs/jobs.h"
#include "notify/notify.h"

#define NOTICE_JOB "privacy.policy_notice"

static const char *const doc_names[POLICY_DOC__COUNT] = {"privacy", "terms"};

const char *privacy_doc_name(enum policy_doc d)
{
    return (unsigned)d < POLICY_DOC__COUNT ? doc_names[d] : "";
}

bool privacy_doc_parse(const char *s, enum policy_doc *out)
{
    int d = pc_lookup(doc_names, POLICY_DOC__COUNT, s);
    if (d >= 0)
        *out = (enum policy_doc)d;
    return d >= 0;
}

static const char *const channel_names[] = {"web", "app", "email_link", "sms_keyword", "staff"};

const char *privacy_channel_name(enum consent_channel ch)
{
    return (unsigned)ch < sizeof channel_names / sizeof channel_names[0] ? channel_names[ch]
                                                                         : "web";
}

static bool lang_supported(const char *lang)
{
    for (size_t i = 0; lang && i < i18n_lang_count; i++)
        if (strcmp(lang, i18n_langs[i]) == 0)
            return true;
    return false;
}

static enum st refuse(struct privacy_error *err, const char *field, const char *code)
{
    if (err) {
        err->field = field;
        err->code = code;
    }
    return ST_INVALID;
}

/* ---------------------------------------------------------------- versions */

/* The version of doc in force at t: its id and number (0, 0 when none). */
static enum st in_force_at(struct db_conn *c, const char *doc, int64_t t, int64_t *id,
                           int64_t *version)
{
    *id = *version = 0;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT id, version FROM policy_versions WHERE document = ? AND "
                          "effective_at <= ? ORDER BY version DESC LIMIT 1",
                          "ti", doc, t);
    if (st == ST_OK && row) {
        *id = db_col_int64(s, 0);
        *version = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* The languages of a version, as a JSON array; *pick (may be NULL) gets
 * want when it is one of them, else "en", else the first (64 bytes). */
static enum st version_langs(struct db_conn *c, int64_t id, const char *want, json_t **out,
                             char *pick)
{
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(
        c, &s, &row, "SELECT lang FROM policy_texts WHERE version_id = ? ORDER BY lang", "i", id);
    json_t *a = json_array();
    bool want_found = false, en_found = false;
    while (st == ST_OK && row) {
        const char *l = db_col_text(s, 0);
        want_found |= want && strcmp(l, want) == 0;
        en_found |= strcmp(l, "en") == 0;
        json_array_append_new(a, json_string(l));
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (pick)
        snprintf(pick, 64, "%s",
                 want_found ? want
                 : en_found ? "en"
                            : (json_array_size(a) ? json_string_value(json_array_get(a, 0)) : ""));
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

/* A version as the API shows it; with its text in lang (or the fallback)
 * when lang is not NULL. ST_NOTFOUND for no such version. */
static enum st version_json(struct db_conn *c, int64_t id, const char *lang, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT document, version, material, effective_at, published_at "
                          "FROM policy_versions WHERE id = ?",
                          "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    json_t *o = NULL;
    char doc[16] = "";
    if (st == ST_OK) {
        snprintf(doc, sizeof doc, "%s", db_col_text(s, 0));
        o = json_pack("{s:I, s:s, s:I, s:b, s:I, s:I}", "id", (json_int_t)id, "document", doc,
                      "version", (json_int_t)db_col_int64(s, 1), "material",
                      db_col_int64(s, 2) != 0, "effective_at", (json_int_t)db_col_int64(s, 3),
                      "published_at", (json_int_t)db_col_int64(s, 4));
    }
    if (s)
        db_stmt_done(s);
    json_t *langs = NULL;
    char pick[64] = "";
    if (st == ST_OK)
        st = version_langs(c, id, lang, &langs, pick);
    if (st == ST_OK)
        json_object_set_new(o, "languages", langs);
    int64_t force_id, force_version;
    if (st == ST_OK)
        st = in_force_at(c, doc, clock_now_ms(), &force_id, &force_version);
    if (st == ST_OK)
        json_object_set_new(o, "in_force", json_boolean(force_id == id));
    if (st == ST_OK && lang) {
        st =
            pc_query(c, &s, &row,
                     "SELECT lang, title, body FROM policy_texts WHERE version_id = ? AND lang = ?",
                     "it", id, pick);
        if (st == ST_OK && row) {
            json_object_set_new(o, "lang", json_string(db_col_text(s, 0)));
            json_object_set_new(o, "title", json_string(db_col_text(s, 1)));
            json_object_set_new(o, "body", json_string(db_col_text(s, 2)));
        }
        if (s)
            db_stmt_done(s);
    }
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return ST_OK;
}

enum st privacy_policy_get(struct db_conn *c, int64_t id, const char *lang, json_t **out)
{
    return version_json(c, id, lang ? lang : "en", out);
}

enum st privacy_policies_list(struct db_conn *c, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row, "SELECT id FROM policy_versions ORDER BY id DESC", "");
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (st == ST_OK && row) {
        if (n == cap)
            ids = xrealloc(ids, (cap = cap ? cap * 2 : 16) * sizeof *ids);
        ids[n++] = db_col_int64(s, 0);
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    json_t *a = json_array();
    for (size_t i = 0; st == ST_OK && i < n; i++) {
        json_t *v;
        st = version_json(c, ids[i], NULL, &v);
        if (st == ST_OK)
            json_array_append_new(a, v);
    }
    free(ids);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o}", "versions", a);
    return ST_OK;
}

/* ---------------------------------------------------------------- publishing */

static enum st check_text(const char *lang, const char *title, const char *body,
                          struct privacy_error *err)
{
    if (!lang_supported(lang))
        return refuse(err, "lang", "choice");
    if (!title || !*title || utf8_len(title, strlen(title)) > POLICY_TITLE_MAX)
        return refuse(err, "title", "too_long");
    if (!body || !*body || utf8_len(body, strlen(body)) > POLICY_BODY_MAX)
        return refuse(err, "body", "too_long");
    return ST_OK;
}

static enum st audit_staff(struct db_conn *c, int64_t staff_id, const char *role,
                           const char *action, const char *ip, int64_t version_id, const char *lang)
{
    char detail[128];
    snprintf(detail, sizeof detail, "{\"lang\":\"%s\",\"version_id\":%lld}", lang,
             (long long)version_id);
    struct audit_entry e = {
        .actor_id = staff_id,
        .actor_role = role && *role ? role : "staff",
        .action = action,
        .detail = detail,
        .ip = ip,
    };
    return audit_append(c, &e, NULL);
}

static enum st add_text(struct db_conn *c, int64_t version_id, const char *lang, const char *title,
                        const char *body)
{
    return pc_exec(c, NULL,
                   "INSERT INTO policy_texts (version_id, lang, title, body, added_at) "
                   "VALUES (?, ?, ?, ?, ?)",
                   "ittti", version_id, lang, title, body, clock_now_ms());
}

/* Queues the notices of version_id for the users after `after`. */
static enum st queue_notices(struct db_conn *c, int64_t version_id, int64_t after)
{
    char key[64];
    snprintf(key, sizeof key, "policy-notice:%lld:%lld", (long long)version_id, (long long)after);
    json_t *p =
        json_pack("{s:I, s:I}", "version_id", (json_int_t)version_id, "after", (json_int_t)after);
    struct job_opts o = {.unique_key = key};
    enum st st = jobs_enqueue(c, NOTICE_JOB, p, &o, NULL);
    json_decref(p);
    return st;
}

static enum st publish_once(struct db_conn *c, const struct policy_new *p, int64_t effective,
                            int64_t *id)
{
    int64_t next = 0, now = clock_now_ms();
    enum st st = db_begin(c);
    if (st == ST_OK)
        st = pc_int(c, &next,
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_versions WHERE document = ?",
                    "t", privacy_doc_name(p->doc));
    if (st == ST_OK)
        st = pc_int(c, id,
                    "INSERT INTO policy_versions (document, version, material, effective_at, "
                    "published_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                    "tiiii", privacy_doc_name(p->doc), next, (int64_t)p->material, effective, now);
    if (st == ST_OK)
        st = add_text(c, *id, p->lang, p->title, p->body);
    if (st == ST_OK)
        st = audit_staff(c, p->staff_id, p->staff_role, "privacy.policy.publish", p->ip, *id,
                         p->lang);
    if (st == ST_OK)
        st = queue_notices(c, *id, 0);
    return pc_finish(c, st);
}

enum st privacy_policy_publish(struct db_conn *c, const struct policy_new *p, json_t **out,
                               struct privacy_error *err)
{
    *out = NULL;
    enum st st = check_text(p->lang, p->title, p->body, err);
    if (st != ST_OK)
        return st;
    int64_t now = clock_now_ms();
    if (p->effective_at != 0 && p->effective_at < now)
        return refuse(err, "effective_at", "not_past");
    if ((unsigned)p->doc >= POLICY_DOC__COUNT)
        return refuse(err, "document", "choice");
    int64_t id = 0;
    /* Two publications of one document at once race for the next number:
     * the loser's insert is a unique violation, and it simply retries. */
    for (int tries = 0; tries < 3; tries++) {
        st = publish_once(c, p, p->effective_at ? p->effective_at : now, &id);
        if (st != ST_CONFLICT)
            break;
    }
    if (st != ST_OK)
        return st;
    privacy_gate_forget();
    jobs_wake();
    return version_json(c, id, p->lang, out);
}

enum st privacy_policy_text_add(struct db_conn *c, int64_t version_id, const char *lang,
                                const char *title, const char *body, int64_t staff_id,
                                const char *staff_role, const char *ip, json_t **out,
                                struct privacy_error *err)
{
    *out = NULL;
    enum st st = check_text(lang, title, body, err);
    if (st != ST_OK)
        return st;
    int64_t one;
    st = db_begin(c);
    if (st == ST_OK)
        st = pc_int(c, &one, "SELECT 1 FROM policy_versions WHERE id = ?", "i", version_id);
    if (st == ST_OK)
        st = add_text(c, version_id, lang, title, body); /* an existing language: ST_CONFLICT */
    if (st == ST_OK)
        st = audit_staff(c, staff_id, staff_role, "privacy.policy.translate", ip, version_id, lang);
    st = pc_finish(c, st);
    return st == ST_OK ? version_json(c, version_id, lang, out) : st;
}

/* ---------------------------------------------------------------- a user's standing */

/* The highest version of doc user_id accepted explicitly, and the one in
 * force when they registered (0 when none). ST_NOTFOUND for no such user. */
static enum st standing(struct db_conn *c, int64_t user_id, const char *doc, int64_t *explicit_v,
                        int64_t *implicit_v)
{
    struct db_stmt *s;
    bool row;
    enum st st =
        pc_query(c, &s, &row,
                 "SELECT (SELECT MAX(v.version) FROM policy_acceptances a JOIN policy_versions v "
                 "ON v.id = a.version_id WHERE a.user_id = u.id AND v.document = ?), "
                 "(SELECT MAX(v.version) FROM policy_versions v WHERE v.document = ? AND "
                 "v.effective_at <= u.created_at) FROM users u WHERE u.id = ?",
                 "tti", doc, doc, user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *explicit_v = db_col_int64(s, 0);
        *implicit_v = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* ---------------------------------------------------------------- the gate */

/* The material versions (cached per node) and the users let through. */
struct material {
    int doc;
    int64_t version;
    int64_t effective_at;
};

#define GATE_SLOTS 4096

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool loaded;
    uint64_t loaded_ns;
    struct material *v;
    size_t n;
} mats;
static struct {
    int64_t user_id;
    int64_t need[POLICY_DOC__COUNT]; /* the requirement they were let through for */
} through[GATE_SLOTS];

/* What each document requires at now: the newest material version in
 * force (0 = nothing). Call with gate_mu held. */
static bool requirements(int64_t now, int64_t need[POLICY_DOC__COUNT])
{
    bool any = false;
    memset(need, 0, sizeof(int64_t) * POLICY_DOC__COUNT);
    for (size_t i = 0; i < mats.n; i++)
        if (mats.v[i].effective_at <= now && mats.v[i].version > need[mats.v[i].doc]) {
            need[mats.v[i].doc] = mats.v[i].version;
            any = true;
        }
    return any;
}

static bool fresh_locked(void)
{
    return mats.loaded && clock_mono_ns() - mats.loaded_ns < (uint64_t)POLICY_CACHE_MS * 1000000u;
}

void privacy_gate_forget(void)
{
    pthread_mutex_lock(&gate_mu);
    mats.loaded = false;
    memset(through, 0, sizeof through);
    pthread_mutex_unlock(&gate_mu);
}

enum st privacy_gate_cached(int64_t user_id, bool *blocked)
{
    *blocked = false;
    enum st st = ST_NOTFOUND;
    int64_t need[POLICY_DOC__COUNT];
    pthread_mutex_lock(&gate_mu);
    if (fresh_locked()) {
        const size_t slot = (uint64_t)user_id % GATE_SLOTS;
        if (!requirements(clock_now_ms(), need) ||
            (through[slot].user_id == user_id &&
             memcmp(through[slot].need, need, sizeof need) == 0))
            st = ST_OK;
    }
    pthread_mutex_unlock(&gate_mu);
    return st;
}

static enum st load_materials(struct db_conn *c)
{
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT document, version, effective_at FROM policy_versions "
                          "WHERE material = 1 ORDER BY id",
                          "");
    struct material *v = NULL;
    size_t n = 0, cap = 0;
    while (st == ST_OK && row) {
        enum policy_doc d;
        if (privacy_doc_parse(db_col_text(s, 0), &d)) {
            if (n == cap)
                v = xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            v[n++] = (struct material){d, db_col_int64(s, 1), db_col_int64(s, 2)};
        }
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK) {
        free(v);
        return st;
    }
    pthread_mutex_lock(&gate_mu);
    free(mats.v);
    mats.v = v;
    mats.n = n;
    mats.loaded = true;
    mats.loaded_ns = clock_mono_ns();
    pthread_mutex_unlock(&gate_mu);
    return ST_OK;
}

enum st privacy_gate_check(struct db_conn *c, int64_t user_id, bool *blocked)
{
    *blocked = false;
    pthread_mutex_lock(&gate_mu);
    bool fresh = fresh_locked();
    pthread_mutex_unlock(&gate_mu);
    enum st st = fresh ? ST_OK : load_materials(c);
    if (st != ST_OK)
        return st;
    int64_t need[POLICY_DOC__COUNT];
    pthread_mutex_lock(&gate_mu);
    bool any = requirements(clock_now_ms(), need);
    pthread_mutex_unlock(&gate_mu);
    for (int d = 0; any && d < POLICY_DOC__COUNT && !*blocked; d++) {
        if (!need[d])
            continue;
        int64_t ex, im;
        st = standing(c, user_id, doc_names[d], &ex, &im);
        if (st != ST_OK)
            return st;
        *blocked = (ex > im ? ex : im) < need[d];
    }
    if (any && !*blocked) {
        pthread_mutex_lock(&gate_mu);
        const size_t slot = (uint64_t)user_id % GATE_SLOTS;
        through[slot].user_id = user_id;
        memcpy(through[slot].need, need, sizeof need);
        pthread_mutex_unlock(&gate_mu);
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- consent */

/* The newest material version of doc in force now (0 = none). */
static enum st required_version(struct db_conn *c, const char *doc, int64_t *version)
{
    *version = 0;
    enum st st = pc_int(c, version,
                        "SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE document = ? "
                        "AND material = 1 AND effective_at <= ?",
                        "ti", doc, clock_now_ms());
    return st == ST_NOTFOUND ? ST_OK : st;
}

/* The user's receipt of the version numbered `version` of doc, newest. */
static enum st accepted_json(struct db_conn *c, int64_t user_id, const char *doc, int64_t version,
                             bool implicit, const char *lang, json_t **out)
{
    *out = NULL;
    int64_t vid = 0, at = 0;
    enum st st =
        pc_int(c, &vid, "SELECT id FROM policy_versions WHERE document = ? AND version = ?", "ti",
               doc, version);
    if (st == ST_OK && !implicit)
        st = pc_int(c, &at,
                    "SELECT MAX(accepted_at) FROM policy_acceptances WHERE user_id = ? AND "
                    "version_id = ?",
                    "ii", user_id, vid);
    if (st == ST_OK)
        st = version_json(c, vid, lang, out);
    if (st == ST_OK) {
        json_object_set_new(*out, "accepted_at", implicit ? json_null() : json_integer(at));
        json_object_set_new(*out, "implicit", json_boolean(implicit));
    }
    return st;
}

static enum st doc_state(struct db_conn *c, int64_t user_id, enum policy_doc d, const char *lang,
                         json_t **out, bool *must)
{
    const char *doc = doc_names[d];
    int64_t force_id, force_v, need, ex, im;
    enum st st = in_force_at(c, doc, clock_now_ms(), &force_id, &force_v);
    if (st == ST_OK)
        st = required_version(c, doc, &need);
    if (st == ST_OK)
        st = standing(c, user_id, doc, &ex, &im);
    if (st != ST_OK)
        return st;
    int64_t stand = ex > im ? ex : im;
    json_t *force = NULL, *accepted = NULL;
    if (force_id)
        st = version_json(c, force_id, lang, &force);
    if (st == ST_OK && stand)
        st = accepted_json(c, user_id, doc, stand, ex < im, lang, &accepted);
    if (st != ST_OK) {
        json_decref(force);
        return st;
    }
    *must = need > stand;
    *out = json_pack("{s:s, s:o, s:o, s:b, s:b}", "document", doc, "in_force",
                     force ? force : json_null(), "accepted", accepted ? accepted : json_null(),
                     "must_accept", *must, "up_to_date", stand >= force_v);
    return ST_OK;
}

enum st privacy_consent_state(struct db_conn *c, int64_t user_id, const char *lang, json_t **out)
{
    *out = NULL;
    json_t *docs = json_array();
    bool required = false;
    enum st st = ST_OK;
    for (int d = 0; st == ST_OK && d < POLICY_DOC__COUNT; d++) {
        json_t *o;
        bool must = false;
        st = doc_state(c, user_id, (enum policy_doc)d, lang, &o, &must);
        if (st == ST_OK) {
            json_array_append_new(docs, o);
            required |= must;
        }
    }
    if (st != ST_OK) {
        json_decref(docs);
        return st;
    }
    *out = json_pack("{s:b, s:o}", "consent_required", required, "documents", docs);
    return ST_OK;
}

/* ---------------------------------------------------------------- receipts */

#define RECEIPT_SELECT                                                                             \
    "SELECT a.id, a.version_id, v.document, v.version, v.material, a.lang, a.accepted_at, a.ip, "  \
    "a.user_agent, a.channel FROM policy_acceptances a JOIN policy_versions v ON v.id = "          \
    "a.version_id "

static json_t *receipt_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:I, s:s, s:I, s:b, s:s, s:I, s:o, s:o, s:s}", "id",
                     (json_int_t)db_col_int64(s, 0), "version_id", (json_int_t)db_col_int64(s, 1),
                     "document", db_col_text(s, 2), "version", (json_int_t)db_col_int64(s, 3),
                     "material", db_col_int64(s, 4) != 0, "lang", db_col_text(s, 5), "accepted_at",
                     (json_int_t)db_col_int64(s, 6), "ip", pc_text(s, 7), "user_agent",
                     pc_text(s, 8), "channel", db_col_text(s, 9));
}

enum st privacy_receipts_list(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                              json_t **out, int64_t *next)
{
    return pc_page(c, RECEIPT_SELECT "WHERE a.user_id = ? AND a.id < ? ORDER BY a.id DESC LIMIT ?",
                   user_id, before, limit, receipt_row, out, next);
}

static enum st receipt_get(struct db_conn *c, int64_t id, json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row, RECEIPT_SELECT "WHERE a.id = ?", "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        *out = receipt_row(s);
    if (s)
        db_stmt_done(s);
    return st;
}

/* A copy of the User-Agent cut to PRIVACY_UA_MAX bytes at a character
 * boundary (NULL for none). Caller frees. */
static char *ua_kept(const char *ua)
{
    if (!ua || !*ua)
        return NULL;
    size_t n = strlen(ua);
    if (n > PRIVACY_UA_MAX)
        n = PRIVACY_UA_MAX;
    while (n > 0 && !utf8_valid(ua, n))
        n--;
    return n ? xstrndup(ua, n) : NULL;
}

enum st privacy_policy_accept(struct db_conn *c, int64_t user_id, int64_t version_id,
                              const char *lang, const struct consent_client *cl, json_t **out,
                              bool *created, struct privacy_error *err)
{
    if (out)
        *out = NULL;
    *created = false;
    char doc[16] = "";
    int64_t version = 0, one = 0, force_id, force_v, receipt = 0;
    struct db_stmt *s;
    bool row;
    enum st st = db_begin(c);
    if (st == ST_OK)
        st = pc_query(c, &s, &row, "SELECT document, version FROM policy_versions WHERE id = ?",
                      "i", version_id);
    else
        s = NULL;
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        snprintf(doc, sizeof doc, "%s", db_col_text(s, 0));
        version = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK &&
        pc_int(c, &one, "SELECT 1 FROM policy_texts WHERE version_id = ? AND lang = ?", "it",
               version_id, lang ? lang : "") != ST_OK)
        st = refuse(err, "lang", "choice");
    if (st == ST_OK)
        st = in_force_at(c, doc, clock_now_ms(), &force_id, &force_v);
    if (st == ST_OK && version < force_v)
        st = ST_CONFLICT; /* superseded: the version in force is what one agrees to */
    if (st == ST_OK) {
        st = pc_int(c, &receipt,
                    "SELECT MAX(id) FROM policy_acceptances WHERE user_id = ? AND version_id = ?",
                    "ii", user_id, version_id);
        if (st == ST_OK && receipt == 0) {
            char *ua = ua_kept(cl ? cl->user_agent : NULL);
            st = pc_int(c, &receipt,
                        "INSERT INTO policy_acceptances (user_id, version_id, lang, accepted_at, "
                        "ip, user_agent, channel) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        "iitittt", user_id, version_id, lang, clock_now_ms(), cl ? cl->ip : NULL,
                        ua, privacy_channel_name(cl ? cl->channel : CHANNEL_WEB));
            free(ua);
            *created = st == ST_OK;
        }
    }
    st = pc_finish(c, st);
    if (st == ST_OK && out)
        st = receipt_get(c, receipt, out);
    return st;
}

/* ---------------------------------------------------------------- notices */

/* Tells one user about a new version: in the inbox, and by e-mail when
 * they have a verified address (only the first time: the inbox ref
 * makes a repeated run add nothing and send nothing). */
static enum st notify_user(struct db_conn *c, int64_t user_id, int64_t version_id,
                           const json_t *params, bool material, int64_t version,
                           int64_t effective_at)
{
    char ref[48];
    snprintf(ref, sizeof ref, "policy:%lld", (long long)version_id);
    bool added = false;
    enum st st = privacy_inbox_add(c, user_id, "policy.published", params, ref, &added);
    if (st != ST_OK || !added)
        return st;
    json_t *me = NULL;
    st = accounts_me(c, user_id, &me);
    if (st == ST_UNAVAILABLE)
        return st;
    if (st != ST_OK) {
        /* One account whose address cannot be read (no data key) must not
         * hold up everyone's notices: it gets the in-app one only. */
        log_kv(LOG_WARN, "policy notice: an account's e-mail cannot be read; in-app notice only",
               "status", st_name(st), (const char *)NULL);
        return ST_OK;
    }
    const char *email = json_string_value(json_object_get(me, "email"));
    const char *lang = json_string_value(json_object_get(me, "lang"));
    if (!lang_supported(lang))
        lang = "en";
    if (email) {
        char key[48], num[24], date[16];
        snprintf(key, sizeof key, "policy.document.%s",
                 json_string_value(json_object_get(params, "document")));
        snprintf(num, sizeof num, "%lld", (long long)version);
        time_t t = (time_t)(effective_at / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        const char *docname = i18n_get(lang, key);
        char *subject =
            i18n_format(lang, "policy.mail.subject", "document", docname, (const char *)NULL);
        char *body =
            i18n_format(lang, material ? "policy.mail.body_material" : "policy.mail.body",
                        "document", docname, "version", num, "date", date, (const char *)NULL);
        struct notify_msg m = {
            .channel = NOTIFY_EMAIL,
            .purpose = NOTIFY_SERVICE,
            .user_id = user_id,
            .to = email,
            .template_name = "policy.published",
            .lang = lang,
            .subject = subject,
            .body = body,
        };
        st = notify_send(c, &m, NULL);
        free(subject);
        free(body);
    }
    json_decref(me);
    return st;
}

/* One batch of notices: the users after payload.after, and the next batch
 * queued when this one was full. The job's transaction holds it all, so
 * a batch completes exactly once. */
static enum st notice_job(struct job_ctx *ctx)
{
    json_int_t vid = json_integer_value(json_object_get(ctx->payload, "version_id"));
    json_int_t after = json_integer_value(json_object_get(ctx->payload, "after"));
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(ctx->c, &s, &row,
                          "SELECT document, version, material, effective_at FROM policy_versions "
                          "WHERE id = ?",
                          "i", (int64_t)vid);
    if (st == ST_OK && !row)
        st = ST_INVALID; /* no such version: never runnable */
    json_t *params = NULL;
    bool material = false;
    int64_t version = 0, effective = 0;
    if (st == ST_OK) {
        material = db_col_int64(s, 2) != 0;
        version = db_col_int64(s, 1);
        effective = db_col_int64(s, 3);
        params = json_pack("{s:I, s:s, s:I, s:b, s:I}", "version_id", vid, "document",
                           db_col_text(s, 0), "version", (json_int_t)version, "material", material,
                           "effective_at", (json_int_t)effective);
    }
    if (s)
        db_stmt_done(s);
    int64_t ids[POLICY_NOTICE_BATCH];
    size_t n = 0;
    if (st == ST_OK)
        st = pc_query(ctx->c, &s, &row,
                      "SELECT id FROM users WHERE id > ? AND status IN ('active', 'frozen') "
                      "ORDER BY id LIMIT ?",
                      "ii", (int64_t)after, (int64_t)POLICY_NOTICE_BATCH);
    else
        s = NULL;
    while (st == ST_OK && row && n < POLICY_NOTICE_BATCH) {
        ids[n++] = db_col_int64(s, 0);
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    for (size_t i = 0; st == ST_OK && i < n; i++)
        st = notify_user(ctx->c, ids[i], vid, params, material, version, effective);
    if (st == ST_OK && n == POLICY_NOTICE_BATCH)
        st = queue_notices(ctx->c, vid, ids[n - 1]);
    json_decref(params);
    if (st != ST_OK)
        job_set_error(ctx, "policy notices for version %lld: %s", (long long)vid, st_name(st));
    else
        notify_worker_wake();
    return st;
}

static const struct job_kind consent_jobs[] = {
    {.name = NOTICE_JOB, .run = notice_job},
};

enum st privacy_policy_jobs_register(void)
{
    if (jobs_kind_find(NOTICE_JOB))
        return ST_OK;
    return jobs_register(consent_jobs, sizeof consent_jobs / sizeof consent_jobs[0]);
}
