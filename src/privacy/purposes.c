/*
 * purposes.c — a switch per optional purpose, the history of its changes,
 * and the marketing check notify asks before it delivers.
 *
 * The design decision: no cache. privacy_purpose_on is one indexed read
 * of a primary key, cheap enough for every request, and any cache (even
 * per node for a second) would let a withdrawn consent be used once more —
 * the one thing "off means off from that moment" forbids. Default off:
 * every purpose here is consent-based, and a missing row is no consent.
 */
#include <string.h>

#include "consent_int.h"
#include "notify/notify.h"

/* Switch changes a user may make in an hour (each writes a history row). */
#define PURPOSE_CHANGES_PER_HOUR 60
#define HOUR_MS                  (3600 * 1000LL)

static const char *const purpose_keys[PURPOSE__COUNT] = {
    [PURPOSE_RECOMMENDATIONS] = "recommendations",
    [PURPOSE_MARKETING_EMAIL] = "marketing_email",
    [PURPOSE_MARKETING_SMS] = "marketing_sms",
    [PURPOSE_MARKETING_CALLS] = "marketing_calls",
    [PURPOSE_CONTACT_MATCHING] = "contact_matching",
    [PURPOSE_MODEL_IMPROVEMENT] = "model_improvement",
};

const char *privacy_purpose_key(enum privacy_purpose p)
{
    return (unsigned)p < PURPOSE__COUNT ? purpose_keys[p] : "";
}

bool privacy_purpose_parse(const char *s, enum privacy_purpose *out)
{
    int p = pc_lookup(purpose_keys, PURPOSE__COUNT, s);
    if (p >= 0)
        *out = (enum privacy_purpose)p;
    return p >= 0;
}

/* The switch as stored: *on and *updated_at (0 when never set). */
static enum st read_switch(struct db_conn *c, int64_t user_id, enum privacy_purpose p, bool *on,
                           int64_t *updated_at)
{
    *on = false;
    *updated_at = 0;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT enabled, updated_at FROM purpose_settings WHERE user_id = ? AND "
                          "purpose = ?",
                          "it", user_id, purpose_keys[p]);
    if (st == ST_OK && row) {
        *on = db_col_int64(s, 0) != 0;
        *updated_at = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

bool privacy_purpose_on(struct db_conn *c, int64_t user_id, enum privacy_purpose p)
{
    bool on;
    int64_t at;
    if (user_id <= 0 || (unsigned)p >= PURPOSE__COUNT)
        return false;
    return read_switch(c, user_id, p, &on, &at) == ST_OK && on;
}

static json_t *switch_json(enum privacy_purpose p, bool on, int64_t at)
{
    return json_pack("{s:s, s:b, s:o}", "purpose", purpose_keys[p], "on", on, "updated_at",
                     at ? json_integer(at) : json_null());
}

enum st privacy_purpose_get(struct db_conn *c, int64_t user_id, enum privacy_purpose p,
                            json_t **out)
{
    *out = NULL;
    if ((unsigned)p >= PURPOSE__COUNT)
        return ST_NOTFOUND;
    bool on;
    int64_t at;
    enum st st = read_switch(c, user_id, p, &on, &at);
    if (st == ST_OK)
        *out = switch_json(p, on, at);
    return st;
}

enum st privacy_purposes_list(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    json_t *a = json_array();
    enum st st = ST_OK;
    for (int p = 0; st == ST_OK && p < PURPOSE__COUNT; p++) {
        json_t *o;
        st = privacy_purpose_get(c, user_id, (enum privacy_purpose)p, &o);
        if (st == ST_OK)
            json_array_append_new(a, o);
    }
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o}", "purposes", a);
    return ST_OK;
}

enum st privacy_purpose_set(struct db_conn *c, int64_t user_id, enum privacy_purpose p, bool on,
                            enum consent_channel ch, json_t **out)
{
    if (out)
        *out = NULL;
    if ((unsigned)p >= PURPOSE__COUNT || user_id <= 0)
        return ST_NOTFOUND;
    int64_t now = clock_now_ms(), at, recent = 0;
    bool old;
    enum st st = db_begin(c);
    if (st == ST_OK)
        st = read_switch(c, user_id, p, &old, &at);
    if (st == ST_OK && old != on)
        st = pc_int(c, &recent, "SELECT COUNT(*) FROM purpose_changes WHERE user_id = ? AND at > ?",
                    "ii", user_id, now - HOUR_MS);
    if (st == ST_OK && recent >= PURPOSE_CHANGES_PER_HOUR)
        st = ST_RATELIMIT;
    if (st == ST_OK && old != on) {
        st = pc_exec(c, NULL,
                     "INSERT INTO purpose_settings (user_id, purpose, enabled, updated_at) "
                     "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, purpose) DO UPDATE SET "
                     "enabled = excluded.enabled, updated_at = excluded.updated_at",
                     "itii", user_id, purpose_keys[p], (int64_t)on, now);
        if (st == ST_OK)
            st = pc_exec(c, NULL,
                         "INSERT INTO purpose_changes (user_id, purpose, old_enabled, "
                         "new_enabled, at, channel) VALUES (?, ?, ?, ?, ?, ?)",
                         "itiiit", user_id, purpose_keys[p], (int64_t)old, (int64_t)on, now,
                         privacy_channel_name(ch));
        at = now;
    }
    st = pc_finish(c, st);
    if (st == ST_OK && out)
        *out = switch_json(p, on, at);
    return st;
}

static json_t *change_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:s, s:b, s:b, s:I, s:s}", "id", (json_int_t)db_col_int64(s, 0),
                     "purpose", db_col_text(s, 1), "from", db_col_int64(s, 2) != 0, "to",
                     db_col_int64(s, 3) != 0, "at", (json_int_t)db_col_int64(s, 4), "channel",
                     db_col_text(s, 5));
}

enum st privacy_purpose_history(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                                json_t **out, int64_t *next)
{
    return pc_page(c,
                   "SELECT id, purpose, old_enabled, new_enabled, at, channel FROM "
                   "purpose_changes WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                   user_id, before, limit, change_row, out, next);
}

/* ---------------------------------------------------------------- wiring */

/* notify asks this before delivering a marketing message (and so after a
 * withdrawal, queued messages are cancelled too). */
static bool marketing_allowed(struct db_conn *c, int64_t user_id, enum notify_channel ch, void *arg)
{
    (void)arg;
    return privacy_purpose_on(c, user_id,
                              ch == NOTIFY_SMS ? PURPOSE_MARKETING_SMS : PURPOSE_MARKETING_EMAIL);
}

enum st privacy_consent_init(void)
{
    notify_set_marketing_check(marketing_allowed, NULL);
    return privacy_policy_jobs_register();
}
