/*
 * workdays.h — the one working-day calendar (DESIGN.md, data conventions):
 * every deadline promised in working days ("acknowledged within 5 working
 * days", "corrected within 2") is computed here and nowhere else.
 *
 * A day is a working day when it is a make-up working day (China moves
 * weekends next to long holidays: the Sunday before the Spring Festival
 * week is worked), or else when it is Monday to Friday and not a public
 * holiday. Days are calendar days in one fixed UTC offset (the operator's
 * legal time; UTC+8 by default, which has no daylight saving time). Zones
 * with DST are not modelled: pick the offset the promises are made in.
 *
 * Deadlines count from the day after the event, as the seeds' policies
 * and most laws do: a complaint received on Monday at 18:00 with a
 * 5-working-day promise is due by the end of the following Monday (local
 * midnight), whatever time of day it came in.
 *
 * The calendar comes from the configuration (workdays_utc_offset_minutes,
 * workdays_holidays, workdays_makeup_days: lists of YYYY-MM-DD dates and
 * YYYY-MM-DD..YYYY-MM-DD ranges), read at start-up; docs/operations.md has
 * the Chinese calendar of a year as an example. The process-wide calendar
 * is set once at start-up (workdays_set) and only read afterwards.
 */
#ifndef ENTREPOT_CORE_WORKDAYS_H
#define ENTREPOT_CORE_WORKDAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKDAYS_DATES_MAX      1024   /* holidays (or make-up days) one calendar holds */
#define WORKDAYS_RANGE_MAX      366    /* days one YYYY-MM-DD..YYYY-MM-DD range may span */
#define WORKDAYS_ADD_MAX        3660   /* working days one deadline may count */
#define WORKDAYS_OFFSET_DEFAULT 480    /* minutes east of UTC: UTC+8 */
#define WORKDAYS_OFFSET_MIN     (-720) /* UTC-12 */
#define WORKDAYS_OFFSET_MAX     840    /* UTC+14 */
#define WORKDAYS_DAY_MS         86400000LL

/* A calendar: sorted, distinct day numbers (days since 1970-01-01 in the
 * calendar's own offset). Plain data: copy it freely. */
struct workdays {
    int offset_min; /* minutes east of UTC */
    size_t nholidays, nmakeup;
    int32_t holidays[WORKDAYS_DATES_MAX];
    int32_t makeup[WORKDAYS_DATES_MAX];
};

/* Fills w from an offset and two lists ("2025-01-01, 2025-01-28..2025-02-04";
 * "" or NULL for none). ST_INVALID with an English message in err for an
 * offset out of range, a malformed date or range, a range over
 * WORKDAYS_RANGE_MAX days or reversed, more than WORKDAYS_DATES_MAX days
 * in a list, or a day that is both a holiday and a make-up day. Repeated
 * days are kept once. */
enum st workdays_parse(struct workdays *w, int offset_min, const char *holidays, const char *makeup,
                       char *err, size_t errlen);
/* Checks one list alone (for the configuration's field check). */
enum st workdays_list_check(const char *list, char *err, size_t errlen);

/* The process-wide calendar: weekends only at UTC+8 until workdays_set. */
const struct workdays *workdays_get(void);
/* Installs a copy of w. Start-up (and tests) only: not thread-safe against
 * readers. */
void workdays_set(const struct workdays *w);
/* workdays_parse + workdays_set; nothing changes on error. */
enum st workdays_configure(int offset_min, const char *holidays, const char *makeup, char *err,
                           size_t errlen);

/* The local day (days since 1970-01-01 in w's offset) ms falls on. */
int64_t workdays_day(const struct workdays *w, int64_t ms);
/* The instant (ms UTC) local day `day` starts. */
int64_t workdays_day_start(const struct workdays *w, int64_t day);
/* ISO weekday of a day number: 1 Monday .. 7 Sunday. */
int workdays_weekday(int64_t day);
bool workdays_is_holiday(const struct workdays *w, int64_t day);
bool workdays_is_makeup(const struct workdays *w, int64_t day);
/* Whether day is a working day (see the rule at the top). */
bool workdays_is_working(const struct workdays *w, int64_t day);

/* The deadline n working days after from_ms: the end (exclusive: the next
 * local midnight) of the n-th working day after from_ms's local day. n <= 0
 * answers from_ms; n is capped at WORKDAYS_ADD_MAX. */
int64_t workdays_add(const struct workdays *w, int64_t from_ms, int n);
/* The working days whose local date lies after from_ms's and up to and
 * including to_ms's: 0 on the same day, negative when to_ms is before
 * from_ms. For any t and n >= 1:
 *   workdays_between(w, t, workdays_add(w, t, n) - 1) == n. */
int64_t workdays_between(const struct workdays *w, int64_t from_ms, int64_t to_ms);

/* Parses "YYYY-MM-DD" (exactly, s[0..n)) into a day number; false when it
 * is not a real date between 1970 and 9999. */
bool workdays_date_parse(const char *s, size_t n, int64_t *day);
/* Writes day as "YYYY-MM-DD". */
void workdays_date_format(int64_t day, char out[16]);

#endif
