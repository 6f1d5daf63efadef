/*
 * test_workdays.c — src/core/workdays.c: the working-day calendar every
 * deadline goes through. Dates, weekends, public holidays (runs of them),
 * make-up working days (China's worked weekends), the UTC offset of the
 * calendar and the day boundaries, adding and counting, and the parser of
 * the configuration's lists.
 *
 * The reference calendar is China's for 2025 as the State Council
 * published it (国办发明电〔2024〕12号): holidays 1 Jan, 28 Jan..4 Feb,
 * 4..6 Apr, 1..5 May, 31 May..2 Jun, 1..8 Oct; make-up working days
 * Sunday 26 Jan, Saturday 8 Feb, Sunday 27 Apr, Sunday 28 Sep,
 * Saturday 11 Oct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/core.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  WORKDAYS_DAY_MS

static const char CN2025_HOLIDAYS[] = "2025-01-01, 2025-01-28..2025-02-04, 2025-04-04..2025-04-06,"
                                      "2025-05-01..2025-05-05, 2025-05-31..2025-06-02,"
                                      "2025-10-01..2025-10-08";
static const char CN2025_MAKEUP[] = "2025-01-26,2025-02-08,2025-04-27,2025-09-28,2025-10-11";

static int64_t day_of(const char *date)
{
    int64_t d = 0;
    assert_true(workdays_date_parse(date, strlen(date), &d));
    return d;
}

/* The instant a local date and time of w falls on. */
static int64_t at(const struct workdays *w, const char *date, int hour, int minute)
{
    return workdays_day_start(w, day_of(date)) + hour * HOUR_MS + minute * 60000LL;
}

static void date_of(const struct workdays *w, int64_t ms, char out[16])
{
    workdays_date_format(workdays_day(w, ms), out);
}

static struct workdays *cn2025(void)
{
    static struct workdays w;
    char err[200];
    assert_int_equal(workdays_parse(&w, 480, CN2025_HOLIDAYS, CN2025_MAKEUP, err, sizeof err),
                     ST_OK);
    return &w;
}

/* The deadline n working days after local date/time, as the local date
 * whose end it is (the deadline itself is the next midnight). */
static void due(const struct workdays *w, const char *date, int hour, int n, char out[16])
{
    int64_t t = at(w, date, hour, 0);
    int64_t d = workdays_add(w, t, n);
    /* Always a local midnight, after the event. */
    assert_int_equal(workdays_day_start(w, workdays_day(w, d)), d);
    assert_true(d > t);
    date_of(w, d - 1, out);
}

/* ---------------------------------------------------------------- dates */

static void test_dates_round_trip_and_reject_nonsense(void **state)
{
    (void)state;
    assert_int_equal(day_of("1970-01-01"), 0);
    assert_int_equal(day_of("1970-01-02"), 1);
    assert_int_equal(day_of("2000-03-01") - day_of("2000-02-28"), 2); /* 2000 was a leap year */
    assert_int_equal(day_of("2100-03-01") - day_of("2100-02-28"), 1); /* 2100 will not be */
    char out[16];
    for (int64_t d = 0; d < 60000; d += 17) {
        workdays_date_format(d, out);
        assert_int_equal(day_of(out), d);
    }
    int64_t d;
    const char *bad[] = {"2025-02-29", "2024-02-30",  "2025-13-01", "2025-00-10",
                         "2025-04-31", "2025-1-01",   "25-01-01",   "2025/01/01",
                         "1969-12-31", "2025-01-01x", "",           "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(workdays_date_parse(bad[i], strlen(bad[i]), &d));
    assert_true(workdays_date_parse("2024-02-29", 10, &d));
}

static void test_weekdays(void **state)
{
    (void)state;
    assert_int_equal(workdays_weekday(day_of("1970-01-01")), 4); /* Thursday */
    assert_int_equal(workdays_weekday(day_of("2025-01-01")), 3); /* Wednesday */
    assert_int_equal(workdays_weekday(day_of("2025-01-26")), 7); /* Sunday */
    assert_int_equal(workdays_weekday(day_of("2025-02-08")), 6); /* Saturday */
    assert_int_equal(workdays_weekday(day_of("2025-10-13")), 1); /* Monday */
}

/* ---------------------------------------------------------------- weekends only */

static void test_weekends_only(void **state)
{
    (void)state;
    struct workdays w;
    char err[200], out[16];
    assert_int_equal(workdays_parse(&w, 480, "", NULL, err, sizeof err), ST_OK);
    /* Monday 2025-03-10 at 10:00: five working days is the next Monday. */
    due(&w, "2025-03-10", 10, 5, out);
    assert_string_equal(out, "2025-03-17");
    /* Friday: the weekend is skipped. */
    due(&w, "2025-03-14", 9, 1, out);
    assert_string_equal(out, "2025-03-17");
    /* Filed on a Saturday or a Sunday: counting starts on Monday. */
    due(&w, "2025-03-15", 12, 1, out);
    assert_string_equal(out, "2025-03-17");
    due(&w, "2025-03-16", 23, 2, out);
    assert_string_equal(out, "2025-03-18");
    /* Fifteen working days are three weeks. */
    due(&w, "2025-03-10", 0, 15, out);
    assert_string_equal(out, "2025-03-31");
    /* n <= 0 is the moment itself. */
    int64_t t = at(&w, "2025-03-10", 10, 0);
    assert_int_equal(workdays_add(&w, t, 0), t);
    assert_int_equal(workdays_add(&w, t, -3), t);
    /* Counting: the days after the first date, up to and including the last. */
    assert_int_equal(workdays_between(&w, t, t), 0);
    assert_int_equal(workdays_between(&w, t, at(&w, "2025-03-11", 0, 0)), 1);
    assert_int_equal(workdays_between(&w, t, at(&w, "2025-03-16", 23, 59)), 4);
    assert_int_equal(workdays_between(&w, t, at(&w, "2025-03-17", 0, 0)), 5);
    assert_int_equal(workdays_between(&w, at(&w, "2025-03-17", 0, 0), t), -5);
    /* A year of weekdays. */
    assert_int_equal(workdays_between(&w, at(&w, "2024-12-31", 12, 0), at(&w, "2025-12-31", 12, 0)),
                     261);
}

/* ---------------------------------------------------------------- holidays and make-up days */

static void test_china_2025_holiday_runs_and_makeup_days(void **state)
{
    (void)state;
    struct workdays *w = cn2025();
    char out[16];
    /* The Spring Festival: 28 Jan..4 Feb off, Sunday 26 Jan and Saturday 8 Feb worked. */
    assert_true(workdays_is_working(w, day_of("2025-01-26")));
    assert_true(workdays_is_makeup(w, day_of("2025-01-26")));
    assert_false(workdays_is_working(w, day_of("2025-01-28")));
    assert_false(workdays_is_working(w, day_of("2025-02-03"))); /* a Monday inside the run */
    assert_true(workdays_is_holiday(w, day_of("2025-02-04")));
    assert_true(workdays_is_working(w, day_of("2025-02-08")));
    assert_false(workdays_is_working(w, day_of("2025-02-09")));
    /* Filed Friday 24 Jan: worked Sunday 26, Monday 27, then nothing until 5 Feb. */
    due(w, "2025-01-24", 15, 1, out);
    assert_string_equal(out, "2025-01-26");
    due(w, "2025-01-24", 15, 2, out);
    assert_string_equal(out, "2025-01-27");
    due(w, "2025-01-24", 15, 3, out);
    assert_string_equal(out, "2025-02-05");
    /* 5 working days from Monday 27 Jan: 5, 6, 7, 8 (Saturday, worked) and 10 Feb. */
    due(w, "2025-01-27", 9, 5, out);
    assert_string_equal(out, "2025-02-10");
    /* National Day: 1..8 Oct off; Sunday 28 Sep and Saturday 11 Oct worked. */
    due(w, "2025-09-26", 10, 1, out); /* Friday → the worked Sunday */
    assert_string_equal(out, "2025-09-28");
    due(w, "2025-09-29", 10, 2, out); /* Mon → Tue 30, then 9 Oct */
    assert_string_equal(out, "2025-10-09");
    due(w, "2025-09-30", 10, 3, out); /* 9, 10, 11 (Saturday, worked) */
    assert_string_equal(out, "2025-10-11");
    /* Fifteen working days over the whole October week. */
    due(w, "2025-09-26", 10, 15, out);
    assert_string_equal(out, "2025-10-23");
    /* New Year's Day on a Wednesday. */
    due(w, "2024-12-31", 10, 1, out);
    assert_string_equal(out, "2025-01-02");
    /* Counting agrees with adding across the runs. */
    assert_int_equal(workdays_between(w, at(w, "2025-01-24", 15, 0), at(w, "2025-02-05", 0, 1)), 3);
    assert_int_equal(workdays_between(w, at(w, "2025-09-26", 0, 0), at(w, "2025-10-12", 0, 0)), 6);
    /* The year: 261 weekdays, less the 18 holidays that fall on weekdays,
     * plus the 5 make-up days: 248 working days. */
    int64_t weekday_holidays = 0;
    for (size_t i = 0; i < w->nholidays; i++)
        weekday_holidays += workdays_weekday(w->holidays[i]) <= 5;
    assert_int_equal(weekday_holidays, 18);
    assert_int_equal(workdays_between(w, at(w, "2024-12-31", 12, 0), at(w, "2025-12-31", 12, 0)),
                     248);
}

/* The identity the deadlines rely on, for every start in two years and
 * every n up to 20, against a day-by-day count. */
static void test_add_and_between_agree_everywhere(void **state)
{
    (void)state;
    struct workdays *w = cn2025();
    int64_t first = at(w, "2024-12-01", 0, 0);
    for (int64_t t = first; t < first + 420 * DAY_MS; t += 7 * HOUR_MS + 13 * 60000) {
        for (int n = 1; n <= 20; n++) {
            int64_t d = workdays_add(w, t, n);
            assert_int_equal(workdays_between(w, t, d - 1), n);
            assert_int_equal(workdays_between(w, t, d),
                             n + workdays_is_working(w, workdays_day(w, d)));
            /* The last day counted is a working day. */
            assert_true(workdays_is_working(w, workdays_day(w, d - 1)));
        }
        int64_t slow = 0, a = workdays_day(w, t);
        for (int64_t day = a + 1; day <= a + 40; day++)
            slow += workdays_is_working(w, day);
        assert_int_equal(workdays_between(w, t, workdays_day_start(w, a + 40)), slow);
    }
}

/* ---------------------------------------------------------------- offsets and boundaries */

static void test_the_local_day_decides(void **state)
{
    (void)state;
    struct workdays cn, utc, ny, in;
    char err[200], out[16];
    assert_int_equal(workdays_parse(&cn, 480, "", "", err, sizeof err), ST_OK);
    assert_int_equal(workdays_parse(&utc, 0, "", "", err, sizeof err), ST_OK);
    assert_int_equal(workdays_parse(&ny, -300, "", "", err, sizeof err), ST_OK);
    assert_int_equal(workdays_parse(&in, 330, "", "", err, sizeof err), ST_OK);
    /* Friday 2025-03-14 17:00 UTC is already Saturday 01:00 in Beijing. */
    int64_t t = at(&utc, "2025-03-14", 17, 0);
    date_of(&cn, t, out);
    assert_string_equal(out, "2025-03-15");
    due(&utc, "2025-03-14", 17, 1, out);
    assert_string_equal(out, "2025-03-17");
    /* In Beijing: filed Saturday, due end of Monday, 16:00 UTC Monday. */
    int64_t d = workdays_add(&cn, t, 1);
    assert_int_equal(d, at(&utc, "2025-03-17", 16, 0));
    /* One millisecond before local midnight is still that day. */
    int64_t midnight = workdays_day_start(&cn, day_of("2025-03-15"));
    date_of(&cn, midnight - 1, out);
    assert_string_equal(out, "2025-03-14");
    date_of(&cn, midnight, out);
    assert_string_equal(out, "2025-03-15");
    assert_int_equal(workdays_add(&cn, midnight - 1, 1),
                     workdays_day_start(&cn, day_of("2025-03-18")));
    assert_int_equal(workdays_add(&cn, midnight, 1), workdays_day_start(&cn, day_of("2025-03-18")));
    /* UTC-5 (a zone without daylight saving here: fixed offsets only)
     * and UTC+5:30 (half-hour offset). */
    assert_int_equal(workdays_add(&ny, at(&ny, "2025-03-14", 23, 59), 1),
                     at(&utc, "2025-03-18", 5, 0));
    assert_int_equal(workdays_add(&in, at(&in, "2025-03-14", 0, 0), 1),
                     at(&utc, "2025-03-17", 18, 30));
    /* Times before the epoch's local day still floor correctly. */
    assert_int_equal(workdays_day(&ny, 0), -1);
    assert_int_equal(workdays_day(&cn, -1), 0);
}

static void test_large_counts_are_capped_and_fast(void **state)
{
    (void)state;
    struct workdays *w = cn2025();
    int64_t t = at(w, "2025-01-01", 0, 0);
    int64_t a = workdays_add(w, t, WORKDAYS_ADD_MAX);
    assert_int_equal(workdays_add(w, t, WORKDAYS_ADD_MAX + 50), a);
    assert_int_equal(workdays_between(w, t, a - 1), WORKDAYS_ADD_MAX);
    /* A century counts by arithmetic. */
    assert_true(workdays_between(w, 0, 100 * 365 * DAY_MS) > 25000);
}

/* ---------------------------------------------------------------- configuration */

static void test_lists_parse_strictly(void **state)
{
    (void)state;
    struct workdays w;
    char err[200];
    assert_int_equal(
        workdays_parse(&w, 480, " 2025-05-01 ,2025-05-01..2025-05-03,, ", "", err, sizeof err),
        ST_OK);
    assert_int_equal(w.nholidays, 3); /* repeats kept once, sorted */
    assert_true(w.holidays[0] < w.holidays[1] && w.holidays[1] < w.holidays[2]);
    const char *bad[] = {"2025-05-1",    "2025-05-03..2025-05-01", "2025-01-01..2026-01-02",
                         "2025-05-01..", "2025-05-01 2025-05-02",  "yesterday",
                         "2025-02-29"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(workdays_parse(&w, 480, bad[i], "", err, sizeof err), ST_INVALID);
        assert_true(strncmp(err, "holidays: ", 10) == 0);
        assert_int_equal(workdays_list_check(bad[i], err, sizeof err), ST_INVALID);
    }
    assert_int_equal(workdays_parse(&w, 480, "", "2025-01-01..2025-01-02x", err, sizeof err),
                     ST_INVALID);
    assert_true(strstr(err, "make-up") != NULL);
    /* One day may not be both. */
    assert_int_equal(
        workdays_parse(&w, 480, "2025-10-01..2025-10-08", "2025-10-05", err, sizeof err),
        ST_INVALID);
    assert_true(strstr(err, "2025-10-05") != NULL);
    /* Offsets. */
    assert_int_equal(workdays_parse(&w, 841, "", "", err, sizeof err), ST_INVALID);
    assert_int_equal(workdays_parse(&w, -721, "", "", err, sizeof err), ST_INVALID);
    assert_int_equal(workdays_parse(&w, 840, "", "", err, sizeof err), ST_OK);
    /* Too many days. */
    assert_int_equal(workdays_parse(&w, 480,
                                    "2020-01-01..2020-12-31,2021-01-01..2021-12-31,"
                                    "2022-01-01..2022-12-31",
                                    "", err, sizeof err),
                     ST_INVALID);
    assert_true(strstr(err, "more than") != NULL);
}

static void test_the_process_calendar(void **state)
{
    (void)state;
    char err[200];
    struct workdays saved = *workdays_get();
    assert_int_equal(workdays_configure(480, "2025-03-17", "", err, sizeof err), ST_OK);
    assert_true(workdays_is_holiday(workdays_get(), day_of("2025-03-17")));
    /* A failed configuration changes nothing. */
    assert_int_equal(workdays_configure(480, "nonsense", "", err, sizeof err), ST_INVALID);
    assert_true(workdays_is_holiday(workdays_get(), day_of("2025-03-17")));
    workdays_set(&saved);
    assert_false(workdays_is_holiday(workdays_get(), day_of("2025-03-17")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates_round_trip_and_reject_nonsense),
        cmocka_unit_test(test_weekdays),
        cmocka_unit_test(test_weekends_only),
        cmocka_unit_test(test_china_2025_holiday_runs_and_makeup_days),
        cmocka_unit_test(test_add_and_between_agree_everywhere),
        cmocka_unit_test(test_the_local_day_decides),
        cmocka_unit_test(test_large_counts_are_capped_and_fast),
        cmocka_unit_test(test_lists_parse_strictly),
        cmocka_unit_test(test_the_process_calendar),
    };
    return cmocka_run_group_tests_name("workdays", tests, NULL, NULL);
}
