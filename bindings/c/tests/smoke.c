/* Drives the C ABI as a C host would: open, push (Loki JSON and typed arrays), query
 * (Loki JSON and result handles of every type), labels, series, tail, deletes,
 * compaction, errors (NULL,
 * bad UTF-8, closed handles), cancellation, limits, many threads, close. Run by scripts/test-all under valgrind:
 *   cc -o smoke bindings/c/tests/smoke.c -Ibindings/c/include target/debug/liblogjar_c.a -lpthread -ldl -lm
 *   ./smoke DIR
 * Prints "N passed, 0 failed" and exits 0 when every check holds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logjar.h"

static int passed, failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            const char *e_ = logjar_last_error();                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, e_ ? e_ : "none");                          \
        }                                                                        \
    } while (0)

static const char BODY[] =
    "{\"streams\":[{\"stream\":{\"app\":\"api\",\"env\":\"prod\"},\"values\":["
    "[\"1000000000\",\"GET /a 200\"],[\"2000000000\",\"GET /b 500\"],"
    "[\"3000000000\",\"GET /c 200\",{\"trace_id\":\"ab12\"}]]}]}";

static int push(logjar_db *db, const char *tenant, const char *body) {
    return logjar_push_loki_json(db, tenant, (const uint8_t *)body, strlen(body));
}

static void test_roundtrip(logjar_db *db) {
    CHECK(push(db, NULL, BODY) == LOGJAR_OK);
    CHECK(logjar_last_error() == NULL);

    char *out = (char *)0x1;
    CHECK(logjar_query_loki_json(db, NULL,
                                 "{\"query\":\"{app=\\\"api\\\"} |= \\\"500\\\"\","
                                 "\"start\":0,\"end\":10000000000}",
                                 &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "\"resultType\":\"streams\"") != NULL);
    CHECK(out != NULL && strstr(out, "GET /b 500") != NULL);
    CHECK(out != NULL && strstr(out, "GET /a 200") == NULL);
    logjar_string_free(out);

    out = NULL;
    CHECK(logjar_query_loki_json(db, "fake",
                                 "{\"query\":\"sum(count_over_time({app=\\\"api\\\"}[10s]))\","
                                 "\"time\":5000000000}",
                                 &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "\"resultType\":\"vector\"") != NULL);
    CHECK(out != NULL && strstr(out, "\"3\"") != NULL);
    logjar_string_free(out);

    /* Tenants never see each other's data. */
    out = NULL;
    CHECK(logjar_query_loki_json(db, "other",
                                 "{\"query\":\"{app=\\\"api\\\"}\",\"start\":0,\"end\":10000000000}",
                                 &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "GET") == NULL);
    logjar_string_free(out);

    CHECK(logjar_flush(db) == LOGJAR_OK);

    out = NULL;
    CHECK(logjar_label_names_json(db, NULL, 0, 10000000000LL, &out) == LOGJAR_OK);
    CHECK(out != NULL && strcmp(out, "{\"status\":\"success\",\"data\":[\"app\",\"env\"]}") == 0);
    logjar_string_free(out);

    out = NULL;
    CHECK(logjar_label_values_json(db, NULL, "app", 0, 10000000000LL, &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "[\"api\"]") != NULL);
    logjar_string_free(out);

    out = NULL;
    CHECK(logjar_series_json(db, NULL, "{env=\"prod\"}", 0, 10000000000LL, &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "{\"app\":\"api\",\"env\":\"prod\"}") != NULL);
    logjar_string_free(out);
}

static void test_errors(logjar_db *db, const char *dir) {
    char *out = NULL;
    /* A bad query: the code, a message naming the position, no output. */
    CHECK(logjar_query_loki_json(db, NULL, "{\"query\":\"{app=\"}", &out) == LOGJAR_ERR_BAD_QUERY);
    CHECK(out == NULL);
    CHECK(logjar_last_error() != NULL && strstr(logjar_last_error(), "parse error") != NULL);
    CHECK(logjar_last_error_code() == LOGJAR_ERR_BAD_QUERY);
    CHECK(logjar_query_loki_json(db, NULL, "not json", &out) == LOGJAR_ERR_BAD_QUERY);
    CHECK(logjar_series_json(db, NULL, "{", 0, 1, &out) == LOGJAR_ERR_BAD_QUERY);
    CHECK(out == NULL);

    /* NULL and invalid arguments. */
    CHECK(logjar_query_loki_json(NULL, NULL, "{\"query\":\"{a=\\\"b\\\"}\"}", &out) ==
          LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_query_loki_json(db, NULL, NULL, &out) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_query_loki_json(db, NULL, "{\"query\":\"{a=\\\"b\\\"}\"}", NULL) ==
          LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_push_loki_json(db, NULL, NULL, 5) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(push(db, NULL, "{\"streams\":") == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(push(db, "\xff\xfe", BODY) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_last_error() != NULL && strstr(logjar_last_error(), "UTF-8") != NULL);
    CHECK(push(db, "bad/tenant", BODY) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_flush(NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_close(NULL) == LOGJAR_OK);
    logjar_string_free(NULL);

    /* The same directory twice: locked. */
    logjar_db *second = (logjar_db *)0x1;
    CHECK(logjar_open(dir, NULL, &second) == LOGJAR_ERR_LOCKED);
    CHECK(second == (logjar_db *)0x1);
    CHECK(logjar_open(dir, "{\"no_such_option\":1}", &second) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_open(NULL, NULL, &second) == LOGJAR_ERR_INVALID_ARGUMENT);

    /* A cancelled token stops the query. */
    logjar_cancel *c = NULL;
    CHECK(logjar_cancel_new(&c) == LOGJAR_OK && c != NULL);
    logjar_cancel_trigger(c);
    CHECK(logjar_query_loki_json_cancellable(
              db, NULL, "{\"query\":\"{app=\\\"api\\\"}\",\"start\":0,\"end\":10000000000}", c,
              &out) == LOGJAR_ERR_CANCELLED);
    CHECK(out == NULL);
    logjar_cancel_free(c);
    logjar_cancel_trigger(NULL);
    logjar_cancel_free(NULL);
}

/* Finds the stream or series of a result whose label `name` is `value`; -1 if none. */
static long find_item(const logjar_result *r, const char *name, const char *value) {
    size_t n = 0;
    if (logjar_result_len(r, &n) != LOGJAR_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        const logjar_label *l = NULL;
        size_t nl = 0;
        if (logjar_result_labels(r, i, &l, &nl) != LOGJAR_OK) return -1;
        for (size_t j = 0; j < nl; j++)
            if (strcmp(l[j].name, name) == 0 && strcmp(l[j].value, value) == 0) return (long)i;
    }
    return -1;
}

static int line_is(const logjar_entry *e, const char *s) {
    return e->line_len == strlen(s) && memcmp(e->line, s, e->line_len) == 0;
}

static void test_typed_push_and_results(logjar_db *db) {
    /* Two streams in one batch; the second entry of "web" has metadata; one line holds
     * a NUL byte and is not NUL-terminated in memory. */
    static const char raw[] = {'b', 'i', 'n', '\0', 'x', 'Z'};
    logjar_label api[] = {{"app", "typed"}, {"svc", "api"}};
    logjar_label web[] = {{"svc", "web"}, {"app", "typed"}};
    int64_t api_ts[] = {11000000000LL, 12000000000LL, 13000000000LL};
    const uint8_t *api_lines[] = {(const uint8_t *)"level=info msg=a", (const uint8_t *)"level=error msg=b",
                                  (const uint8_t *)raw};
    size_t api_lens[] = {16, 17, 5};
    int64_t web_ts[] = {11500000000LL, 12500000000LL};
    const uint8_t *web_lines[] = {(const uint8_t *)"GET / 200", (const uint8_t *)"GET /x 500"};
    size_t web_lens[] = {9, 10};
    size_t meta_counts[] = {0, 1};
    logjar_label meta[] = {{"trace_id", "t-42"}};
    logjar_stream streams[] = {
        {api, 2, api_ts, api_lines, api_lens, 3, NULL, NULL},
        {web, 2, web_ts, web_lines, web_lens, 2, meta_counts, meta},
    };
    logjar_push_report rep = {99, 99, 99, 99};
    CHECK(logjar_push(db, NULL, streams, 2, &rep) == LOGJAR_OK);
    CHECK(rep.accepted == 5 && rep.duplicates == 0 && rep.rejected == 0);
    CHECK(rep.bytes == 16 + 17 + 5 + 9 + 10);
    /* Again: every entry is an exact duplicate, stored once. A NULL report is fine. */
    CHECK(logjar_push(db, NULL, streams, 2, &rep) == LOGJAR_OK && rep.duplicates == 5 && rep.accepted == 0);
    CHECK(logjar_push(db, NULL, streams, 0, NULL) == LOGJAR_OK);

    /* Streams: forward, so oldest first; the metadata became a label of its entry. */
    logjar_result *r = NULL;
    CHECK(logjar_query(db, NULL,
                       "{\"query\":\"{app=\\\"typed\\\"}\",\"start\":10000000000,\"end\":20000000000,"
                       "\"direction\":\"forward\"}",
                       NULL, &r) == LOGJAR_OK);
    int32_t type = 0;
    CHECK(logjar_result_type(r, &type) == LOGJAR_OK && type == LOGJAR_RESULT_STREAMS);
    size_t n = 0;
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 3);
    long i = find_item(r, "svc", "api");
    CHECK(i >= 0);
    const logjar_entry *e = NULL;
    size_t ne = 0;
    CHECK(logjar_result_entries(r, (size_t)i, &e, &ne) == LOGJAR_OK && ne == 3);
    CHECK(ne == 3 && e[0].ts == 11000000000LL && line_is(&e[0], "level=info msg=a"));
    CHECK(ne == 3 && e[2].line_len == 5 && memcmp(e[2].line, "bin\0x", 5) == 0);
    i = find_item(r, "trace_id", "t-42");
    CHECK(i >= 0 && logjar_result_entries(r, (size_t)i, &e, &ne) == LOGJAR_OK && ne == 1 &&
          line_is(&e[0], "GET /x 500"));
    const logjar_label *l = NULL;
    size_t nl = 0;
    CHECK(i >= 0 && logjar_result_labels(r, (size_t)i, &l, &nl) == LOGJAR_OK && nl == 3 &&
          strcmp(l[0].name, "app") == 0 && strcmp(l[2].name, "trace_id") == 0);
    /* The wrong accessor for the type, an index out of range, NULL outputs. */
    const logjar_point *p = NULL;
    size_t np = 0;
    CHECK(logjar_result_points(r, 0, &p, &np) == LOGJAR_ERR_INVALID_ARGUMENT && p == NULL);
    CHECK(logjar_result_entries(r, 3, &e, &ne) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_result_labels(r, 99, &l, &nl) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_result_entries(r, 0, NULL, &ne) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_result_len(r, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    logjar_point sc;
    CHECK(logjar_result_scalar(r, &sc) == LOGJAR_ERR_INVALID_ARGUMENT);
    logjar_query_stats st;
    memset(&st, 0, sizeof st);
    CHECK(logjar_result_stats(r, &st) == LOGJAR_OK && st.entries_returned == 5 && st.lines_processed >= 5);
    char *json = NULL;
    CHECK(logjar_result_loki_json(r, &json) == LOGJAR_OK && json != NULL &&
          strstr(json, "\"resultType\":\"streams\"") != NULL && strstr(json, "level=error msg=b") != NULL);
    logjar_string_free(json);
    CHECK(logjar_result_free(r) == LOGJAR_OK);

    /* Matrix: one series per svc, points in time order. */
    r = NULL;
    CHECK(logjar_query(db, NULL,
                       "{\"query\":\"sum by (svc) (count_over_time({app=\\\"typed\\\"}[10s]))\","
                       "\"start\":20000000000,\"end\":30000000000,\"step\":\"10s\"}",
                       NULL, &r) == LOGJAR_OK);
    CHECK(logjar_result_type(r, &type) == LOGJAR_OK && type == LOGJAR_RESULT_MATRIX);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 2);
    i = find_item(r, "svc", "api");
    CHECK(i >= 0 && logjar_result_points(r, (size_t)i, &p, &np) == LOGJAR_OK && np == 1 &&
          p[0].ts == 20000000000LL && p[0].value == 3.0);
    CHECK(logjar_result_entries(r, 0, &e, &ne) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_result_free(r) == LOGJAR_OK);

    /* Vector: one point per sample, at the query time. */
    r = NULL;
    CHECK(logjar_query(db, NULL,
                       "{\"query\":\"sum by (svc) (count_over_time({app=\\\"typed\\\"}[1m]))\","
                       "\"time\":30000000000}",
                       NULL, &r) == LOGJAR_OK);
    CHECK(logjar_result_type(r, &type) == LOGJAR_OK && type == LOGJAR_RESULT_VECTOR);
    i = find_item(r, "svc", "web");
    CHECK(i >= 0 && logjar_result_points(r, (size_t)i, &p, &np) == LOGJAR_OK && np == 1 &&
          p[0].ts == 30000000000LL && p[0].value == 2.0);
    CHECK(logjar_result_free(r) == LOGJAR_OK);

    /* Scalar. */
    r = NULL;
    CHECK(logjar_query(db, NULL, "{\"query\":\"2 * 21\",\"time\":5000000000}", NULL, &r) == LOGJAR_OK);
    CHECK(logjar_result_type(r, &type) == LOGJAR_OK && type == LOGJAR_RESULT_SCALAR);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 0);
    CHECK(logjar_result_scalar(r, &sc) == LOGJAR_OK && sc.value == 42.0 && sc.ts == 5000000000LL);
    CHECK(logjar_result_labels(r, 0, &l, &nl) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_result_free(r) == LOGJAR_OK);
    /* A freed result is an error, not undefined behaviour. */
    CHECK(logjar_result_len(r, &n) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_result_free(r) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_result_free(NULL) == LOGJAR_OK);

    /* Errors of logjar_query: no result is written. */
    r = (logjar_result *)0x1;
    CHECK(logjar_query(db, NULL, "{\"query\":\"{app=\"}", NULL, &r) == LOGJAR_ERR_BAD_QUERY);
    CHECK(r == (logjar_result *)0x1);
    CHECK(logjar_query(db, NULL, "{\"query\":\"{a=\\\"b\\\"}\"}", NULL, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    logjar_cancel *c = NULL;
    CHECK(logjar_cancel_new(&c) == LOGJAR_OK);
    logjar_cancel_trigger(c);
    CHECK(logjar_query(db, NULL, "{\"query\":\"{app=\\\"typed\\\"}\",\"start\":0,\"end\":20000000000}", c, &r) ==
          LOGJAR_ERR_CANCELLED);
    logjar_cancel_free(c);
}

static void test_typed_push_errors(logjar_db *db) {
    logjar_label good[] = {{"app", "bad"}};
    int64_t ts[] = {1};
    const uint8_t *lines[] = {(const uint8_t *)"x"};
    size_t lens[] = {1};
    logjar_stream s = {good, 1, ts, lines, lens, 1, NULL, NULL};
    logjar_push_report rep = {7, 7, 7, 7};

    CHECK(logjar_push(NULL, NULL, &s, 1, &rep) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_push(db, NULL, NULL, 1, &rep) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(rep.accepted == 7); /* untouched on failure */
    /* A label value that is not UTF-8, a NULL label name, an invalid name, no labels. */
    logjar_label bad_utf8[] = {{"app", "\xc3\x28"}};
    s.labels = bad_utf8;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_last_error() != NULL && strstr(logjar_last_error(), "UTF-8") != NULL);
    logjar_label null_name[] = {{NULL, "x"}};
    s.labels = null_name;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    logjar_label bad_name[] = {{"0bad-name", "x"}};
    s.labels = bad_name;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    s.labels = good;
    s.n_labels = 0;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    s.n_labels = 1;
    /* NULL arrays with entries, a NULL line with a length. */
    s.timestamps = NULL;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    s.timestamps = ts;
    const uint8_t *null_line[] = {NULL};
    s.lines = null_line;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    s.lines = lines;
    /* Metadata that is not UTF-8. */
    size_t counts[] = {1};
    logjar_label bad_meta[] = {{"k", "\xff"}};
    s.metadata_counts = counts;
    s.metadata = bad_meta;
    CHECK(logjar_push(db, NULL, &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    s.metadata_counts = NULL;
    /* A bad tenant. */
    CHECK(logjar_push(db, "\xff", &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_push(db, "a/b", &s, 1, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    /* Nothing of the failed pushes was written. */
    logjar_result *r = NULL;
    size_t n = 99;
    CHECK(logjar_query(db, NULL, "{\"query\":\"{app=\\\"bad\\\"}\",\"start\":0,\"end\":10}", NULL, &r) ==
          LOGJAR_OK);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 0);
    logjar_result_free(r);
}

static void test_limits(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s-limits", dir);
    logjar_db *db = NULL;
    CHECK(logjar_open(path, "{\"sync\":\"never\",\"limits\":{\"max_line_size\":4}}", &db) == LOGJAR_OK);
    logjar_label labels[] = {{"app", "lim"}};
    int64_t ts[] = {1, 2};
    const uint8_t *lines[] = {(const uint8_t *)"ok", (const uint8_t *)"far too long"};
    size_t lens[] = {2, 12};
    logjar_stream s = {labels, 1, ts, lines, lens, 2, NULL, NULL};
    logjar_push_report rep;
    CHECK(logjar_push(db, NULL, &s, 1, &rep) == LOGJAR_ERR_LIMIT);
    CHECK(logjar_push_lenient(db, NULL, &s, 1, &rep) == LOGJAR_OK && rep.accepted == 1 && rep.rejected == 1);
    CHECK(logjar_close(db) == LOGJAR_OK);
}

static void test_tail(logjar_db *db) {
    logjar_tail *sub = NULL;
    CHECK(logjar_tail_open(db, "tails", "{app=\"tail\"} != \"skip\"", 0, &sub) == LOGJAR_OK);
    logjar_result *r = NULL;
    size_t n = 99;
    /* Nothing yet: an empty result after the timeout. */
    CHECK(logjar_tail_poll(sub, 20, &r) == LOGJAR_OK && logjar_result_len(r, &n) == LOGJAR_OK && n == 0);
    logjar_result_free(r);

    /* Three entries share one timestamp; the first poll may see only some of them if a
     * push lands in between, so push two, poll, push the third and a later one. */
    logjar_label labels[] = {{"app", "tail"}};
    int64_t ts1[] = {5000, 5000};
    const uint8_t *l1[] = {(const uint8_t *)"same-ts a", (const uint8_t *)"same-ts b"};
    size_t n1[] = {9, 9};
    logjar_stream s1 = {labels, 1, ts1, l1, n1, 2, NULL, NULL};
    CHECK(logjar_push(db, "tails", &s1, 1, NULL) == LOGJAR_OK);
    const logjar_entry *e = NULL;
    size_t ne = 0;
    r = NULL;
    CHECK(logjar_tail_poll(sub, 1000, &r) == LOGJAR_OK);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 1);
    CHECK(logjar_result_entries(r, 0, &e, &ne) == LOGJAR_OK && ne == 2 && e[0].ts == 5000);
    logjar_result_free(r);

    int64_t ts2[] = {5000, 6000, 7000};
    const uint8_t *l2[] = {(const uint8_t *)"same-ts c", (const uint8_t *)"later", (const uint8_t *)"skip me"};
    size_t n2[] = {9, 5, 7};
    logjar_stream s2 = {labels, 1, ts2, l2, n2, 3, NULL, NULL};
    CHECK(logjar_push(db, "tails", &s2, 1, NULL) == LOGJAR_OK);
    r = NULL;
    CHECK(logjar_tail_poll(sub, 1000, &r) == LOGJAR_OK);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 1);
    CHECK(logjar_result_entries(r, 0, &e, &ne) == LOGJAR_OK && ne == 2 && line_is(&e[0], "same-ts c") &&
          line_is(&e[1], "later"));
    logjar_result_free(r);
    /* Nothing repeats. */
    r = NULL;
    CHECK(logjar_tail_poll(sub, 0, &r) == LOGJAR_OK && logjar_result_len(r, &n) == LOGJAR_OK && n == 0);
    logjar_result_free(r);

    /* Errors: a metric query, NULL arguments, a closed subscription. */
    logjar_tail *bad = (logjar_tail *)0x1;
    CHECK(logjar_tail_open(db, NULL, "rate({app=\"tail\"}[1m])", 0, &bad) == LOGJAR_ERR_BAD_QUERY);
    CHECK(bad == (logjar_tail *)0x1);
    CHECK(logjar_tail_open(db, NULL, NULL, 0, &bad) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_tail_open(NULL, NULL, "{a=\"b\"}", 0, &bad) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_tail_open(db, NULL, "{a=\"b\"}", 0, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_tail_poll(NULL, 0, &r) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_tail_poll(sub, 0, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_tail_close(sub) == LOGJAR_OK);
    r = (logjar_result *)0x1;
    CHECK(logjar_tail_poll(sub, 0, &r) == LOGJAR_ERR_CLOSED && r == (logjar_result *)0x1);
    CHECK(logjar_tail_close(sub) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_tail_close(NULL) == LOGJAR_OK);
}

/* A closed database handle: every call is LOGJAR_ERR_CLOSED; a subscription of it too;
 * a result read from it stays readable. */
static void test_closed_handle(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s-closed", dir);
    logjar_db *db = NULL;
    CHECK(logjar_open(path, NULL, &db) == LOGJAR_OK);
    logjar_tail *sub = NULL;
    CHECK(logjar_tail_open(db, NULL, "{a=\"b\"}", 0, &sub) == LOGJAR_OK);
    CHECK(push(db, NULL, "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",\"kept\"]]}]}") == LOGJAR_OK);
    logjar_result *r = NULL;
    CHECK(logjar_query(db, NULL, "{\"query\":\"{a=\\\"b\\\"}\",\"start\":0,\"end\":10}", NULL, &r) == LOGJAR_OK);
    CHECK(logjar_close(db) == LOGJAR_OK);

    CHECK(push(db, NULL, "{\"streams\":[]}") == LOGJAR_ERR_CLOSED);
    CHECK(logjar_last_error_code() == LOGJAR_ERR_CLOSED);
    CHECK(logjar_flush(db) == LOGJAR_ERR_CLOSED);
    char *out = NULL;
    CHECK(logjar_query_loki_json(db, NULL, "{\"query\":\"{a=\\\"b\\\"}\"}", &out) == LOGJAR_ERR_CLOSED);
    logjar_result *r2 = NULL;
    CHECK(logjar_query(db, NULL, "{\"query\":\"{a=\\\"b\\\"}\"}", NULL, &r2) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_close(db) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_compact(db, NULL) == LOGJAR_ERR_CLOSED);
    logjar_result *t = NULL;
    CHECK(logjar_tail_poll(sub, 0, &t) == LOGJAR_ERR_CLOSED);
    CHECK(logjar_tail_close(sub) == LOGJAR_OK);

    const logjar_entry *e = NULL;
    size_t ne = 0;
    CHECK(logjar_result_entries(r, 0, &e, &ne) == LOGJAR_OK && ne == 1 && line_is(&e[0], "kept"));
    CHECK(logjar_result_free(r) == LOGJAR_OK);
}

/* Deletes hide entries at once and compaction removes them; cancelled deletes stop
 * hiding; compaction reports what it did. */
static void test_compact_delete(logjar_db *db) {
    CHECK(push(db, "del", "{\"streams\":[{\"stream\":{\"app\":\"del\"},\"values\":["
                          "[\"100\",\"token=secret\"],[\"200\",\"hello\"],[\"300\",\"token=other\"]]}]}") ==
          LOGJAR_OK);
    uint64_t id = 0, id2 = 0;
    CHECK(logjar_delete(db, "del", "{app=\"del\"} |= \"secret\"", 0, 1000, &id) == LOGJAR_OK && id >= 1);
    CHECK(logjar_delete(db, "del", "{app=\"del\"} |= \"other\"", 0, 1000, &id2) == LOGJAR_OK && id2 > id);
    CHECK(logjar_cancel_delete(db, "del", id2) == LOGJAR_OK);
    logjar_result *r = NULL;
    size_t n = 0;
    const logjar_entry *e = NULL;
    size_t ne = 0;
    CHECK(logjar_query(db, "del", "{\"query\":\"{app=\\\"del\\\"}\",\"start\":0,\"end\":1000,\"direction\":\"forward\"}",
                       NULL, &r) == LOGJAR_OK);
    CHECK(logjar_result_len(r, &n) == LOGJAR_OK && n == 1);
    CHECK(logjar_result_entries(r, 0, &e, &ne) == LOGJAR_OK && ne == 2 && line_is(&e[0], "hello") &&
          line_is(&e[1], "token=other"));
    logjar_result_free(r);

    char *json = NULL;
    CHECK(logjar_delete_requests_json(db, "del", &json) == LOGJAR_OK && json != NULL &&
          strstr(json, "\"status\":\"pending\"") != NULL && strstr(json, "\"status\":\"cancelled\"") != NULL);
    logjar_string_free(json);

    json = NULL;
    CHECK(logjar_compact(db, &json) == LOGJAR_OK && json != NULL && strstr(json, "\"entries_deleted\":1") != NULL &&
          strstr(json, "\"deletes_applied\":1") != NULL);
    logjar_string_free(json);
    CHECK(logjar_compact(db, NULL) == LOGJAR_OK);
    json = NULL;
    CHECK(logjar_delete_requests_json(db, "del", &json) == LOGJAR_OK && json != NULL &&
          strstr(json, "\"status\":\"applied\"") != NULL);
    logjar_string_free(json);

    /* Errors: a bad delete query, an unknown or applied id, NULL arguments. */
    CHECK(logjar_delete(db, "del", "{app=", 0, 1, &id) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_delete(db, "del", NULL, 0, 1, &id) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_cancel_delete(db, "del", 999999) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_cancel_delete(db, "del", id) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_delete_requests_json(db, "del", NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
    CHECK(logjar_compact(NULL, NULL) == LOGJAR_ERR_INVALID_ARGUMENT);
}

enum { THREADS = 8, ROUNDS = 25 };

typedef struct {
    logjar_db *db;
    int id;
    int failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    char body[256];
    char tenant[32];
    snprintf(tenant, sizeof tenant, "t%d", w->id % 2);
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(body, sizeof body,
                 "{\"streams\":[{\"stream\":{\"worker\":\"w%d\"},\"values\":[[\"%d\",\"line %d\"]]}]}",
                 w->id, 1000 + i, i);
        if (push(w->db, tenant, body) != LOGJAR_OK) w->failures++;
        char *out = NULL;
        if (logjar_query_loki_json(w->db, tenant,
                                   "{\"query\":\"{worker=~\\\"w.*\\\"}\",\"start\":0,\"end\":100000,"
                                   "\"limit\":5}",
                                   &out) != LOGJAR_OK)
            w->failures++;
        logjar_string_free(out);
        /* Errors are per thread: a failure here must not leak into another thread. */
        if (logjar_query_loki_json(w->db, tenant, "{\"query\":\"{\"}", &out) != LOGJAR_ERR_BAD_QUERY ||
            logjar_last_error() == NULL)
            w->failures++;
    }
    return NULL;
}

static void test_threads(logjar_db *db) {
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){db, i, 0};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].failures == 0);
    }
    char *out = NULL;
    CHECK(logjar_query_loki_json(db, "t0",
                                 "{\"query\":\"sum(count_over_time({worker=~\\\"w.*\\\"}[1m]))\","
                                 "\"time\":100000}",
                                 &out) == LOGJAR_OK);
    /* 4 workers on tenant t0, 25 entries each. */
    CHECK(out != NULL && strstr(out, "\"100\"") != NULL);
    logjar_string_free(out);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    CHECK(logjar_version() != NULL && strlen(logjar_version()) > 0);
    logjar_db *db = NULL;
    CHECK(logjar_open(argv[1], "{\"sync\":\"never\"}", &db) == LOGJAR_OK);
    if (db == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", argv[1], logjar_last_error());
        return 1;
    }
    test_roundtrip(db);
    test_errors(db, argv[1]);
    test_typed_push_and_results(db);
    test_typed_push_errors(db);
    test_tail(db);
    test_compact_delete(db);
    test_threads(db);
    CHECK(logjar_close(db) == LOGJAR_OK);

    /* Reopen: the data survived. */
    db = NULL;
    CHECK(logjar_open(argv[1], NULL, &db) == LOGJAR_OK);
    char *out = NULL;
    CHECK(logjar_query_loki_json(db, NULL,
                                 "{\"query\":\"{app=\\\"api\\\"}\",\"start\":0,\"end\":10000000000}",
                                 &out) == LOGJAR_OK);
    CHECK(out != NULL && strstr(out, "GET /c 200") != NULL);
    logjar_string_free(out);
    CHECK(logjar_close(db) == LOGJAR_OK);

    test_limits(argv[1]);
    test_closed_handle(argv[1]);

    printf("smoke: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
