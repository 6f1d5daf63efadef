/*
 * workdays.c — the working-day calendar (workdays.h): weekends, public
 * holidays and make-up working days in one fixed UTC offset.
 *
 * The decision to know: days are integers (days since 1970-01-01 in the
 * calendar's offset), converted to and from dates with Hinnant's civil
 * calendar algorithms, so no call depends on the process's time zone,
 * the C library's tables or a lock. Counting is arithmetic (whole weeks,
 * then the holidays and make-up days inside the span by binary search);
 * adding walks day by day, at most a few thousand steps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static struct workdays current = {.offset_min = WORKDAYS_OFFSET_DEFAULT};

const struct workdays *workdays_get(void)
{
    return &current;
}

void workdays_set(const struct workdays *w)
{
    current = *w;
}

/* ---------------------------------------------------------------- dates */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static unsigned num(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

bool workdays_date_parse(const char *s, size_t n, int64_t *day)
{
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2))
        return false;
    unsigned y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    int64_t z = days_from_civil(y, m, d);
    int64_t yy;
    unsigned mm, dd;
    civil_from_days(z, &yy, &mm, &dd); /* 2025-02-30 comes back as March: not a date */
    if (yy != (int64_t)y || mm != m || dd != d)
        return false;
    *day = z;
    return true;
}

void workdays_date_format(int64_t day, char out[16])
{
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

int workdays_weekday(int64_t day)
{
    /* 1970-01-01 was a Thursday (ISO 4). */
    return (int)(((day % 7) + 7 + 3) % 7) + 1;
}

/* ---------------------------------------------------------------- parsing */

static int cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and removes repeats; returns the new count. */
static size_t sort_unique(int32_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof v[0], cmp_day);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses list into out[0..*n) (sorted, distinct). */
static enum st parse_list(const char *list, int32_t *out, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    for (const char *p = list ? list : ""; *p;) {
        while (is_blank(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && is_blank(p[len - 1]))
            len--;
        int64_t a = 0, b = 0;
        const char *dots = len > 10 ? strstr(p, "..") : NULL;
        bool range = dots && dots == p + 10;
        if (!workdays_date_parse(p, 10 < len ? 10 : len, &a) ||
            (range ? !workdays_date_parse(p + 12, len - 12, &b) : (b = a, len != 10))) {
            snprintf(err, errlen,
                     "\"%.*s\" is not a date (YYYY-MM-DD) or a range of dates "
                     "(YYYY-MM-DD..YYYY-MM-DD)",
                     (int)(len < 40 ? len : 40), p);
            return ST_INVALID;
        }
        if (b < a || b - a >= WORKDAYS_RANGE_MAX) {
            snprintf(err, errlen, "\"%.*s\": a range goes forward and spans at most %d days",
                     (int)(len < 40 ? len : 40), p, WORKDAYS_RANGE_MAX);
            return ST_INVALID;
        }
        for (int64_t d = a; d <= b; d++) {
            if (*n >= WORKDAYS_DATES_MAX) {
                snprintf(err, errlen, "more than %d days in one list", WORKDAYS_DATES_MAX);
                return ST_INVALID;
            }
            out[(*n)++] = (int32_t)d;
        }
        p += len;
    }
    *n = sort_unique(out, *n);
    return ST_OK;
}

enum st workdays_list_check(const char *list, char *err, size_t errlen)
{
    struct workdays *w = xmalloc(sizeof *w);
    enum st st = parse_list(list, w->holidays, &w->nholidays, err, errlen);
    xfree(w);
    return st;
}

/* Index of the first element >= day. */
static size_t lower(const int32_t *v, size_t n, int64_t day)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool find(const int32_t *v, size_t n, int64_t day)
{
    size_t i = lower(v, n, day);
    return i < n && v[i] == day;
}

enum st workdays_parse(struct workdays *w, int offset_min, const char *holidays, const char *makeup,
                       char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (offset_min < WORKDAYS_OFFSET_MIN || offset_min > WORKDAYS_OFFSET_MAX) {
        snprintf(err, errlen, "the UTC offset must be %d..%d minutes", WORKDAYS_OFFSET_MIN,
                 WORKDAYS_OFFSET_MAX);
        return ST_INVALID;
    }
    w->offset_min = offset_min;
    char msg[200];
    if (parse_list(holidays, w->holidays, &w->nholidays, msg, sizeof msg) != ST_OK) {
        snprintf(err, errlen, "holidays: %s", msg);
        return ST_INVALID;
    }
    if (parse_list(makeup, w->makeup, &w->nmakeup, msg, sizeof msg) != ST_OK) {
        snprintf(err, errlen, "make-up working days: %s", msg);
        return ST_INVALID;
    }
    for (size_t i = 0; i < w->nmakeup; i++) {
        if (find(w->holidays, w->nholidays, w->makeup[i])) {
            char d[16];
            workdays_date_format(w->makeup[i], d);
            snprintf(err, errlen, "%s is both a holiday and a make-up working day", d);
            return ST_INVALID;
        }
    }
    return ST_OK;
}

enum st workdays_configure(int offset_min, const char *holidays, const char *makeup, char *err,
                           size_t errlen)
{
    struct workdays *w = xmalloc(sizeof *w);
    enum st st = workdays_parse(w, offset_min, holidays, makeup, err, errlen);
    if (st == ST_OK)
        workdays_set(w);
    xfree(w);
    return st;
}

/* ---------------------------------------------------------------- days */

int64_t workdays_day(const struct workdays *w, int64_t ms)
{
    return floor_div(ms + (int64_t)w->offset_min * 60000, WORKDAYS_DAY_MS);
}

int64_t workdays_day_start(const struct workdays *w, int64_t day)
{
    return day * WORKDAYS_DAY_MS - (int64_t)w->offset_min * 60000;
}

static bool weekend(int64_t day)
{
    return workdays_weekday(day) >= 6;
}

bool workdays_is_holiday(const struct workdays *w, int64_t day)
{
    return find(w->holidays, w->nholidays, day);
}

bool workdays_is_makeup(const struct workdays *w, int64_t day)
{
    return find(w->makeup, w->nmakeup, day);
}

bool workdays_is_working(const struct workdays *w, int64_t day)
{
    if (workdays_is_makeup(w, day))
        return true;
    return !weekend(day) && !workdays_is_holiday(w, day);
}

/* Working days in [a, b] (day numbers, inclusive); 0 when b < a. */
static int64_t count_range(const struct workdays *w, int64_t a, int64_t b)
{
    if (b < a)
        return 0;
    int64_t span = b - a + 1, weeks = span / 7, n = weeks * 5;
    for (int64_t d = a + weeks * 7; d <= b; d++)
        n += !weekend(d);
    /* A holiday on a weekday takes one away; a make-up day on a weekend
     * adds one (the lists never share a day). */
    for (size_t i = lower(w->holidays, w->nholidays, a); i < w->nholidays && w->holidays[i] <= b;
         i++)
        n -= !weekend(w->holidays[i]);
    for (size_t i = lower(w->makeup, w->nmakeup, a); i < w->nmakeup && w->makeup[i] <= b; i++)
        n += weekend(w->makeup[i]);
    return n;
}

int64_t workdays_between(const struct workdays *w, int64_t from_ms, int64_t to_ms)
{
    int64_t a = workdays_day(w, from_ms), b = workdays_day(w, to_ms);
    return b >= a ? count_range(w, a + 1, b) : -count_range(w, b + 1, a);
}

int64_t workdays_add(const struct workdays *w, int64_t from_ms, int n)
{
    if (n <= 0)
        return from_ms;
    if (n > WORKDAYS_ADD_MAX)
        n = WORKDAYS_ADD_MAX;
    int64_t day = workdays_day(w, from_ms);
    for (int k = 0; k < n;) {
        day++;
        k += workdays_is_working(w, day);
    }
    return workdays_day_start(w, day + 1);
}
