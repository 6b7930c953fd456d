/* Drives the C ABI as a C host would: open, push, query, labels, series, errors,
 * cancellation, many threads, close. Run by scripts/test-all under valgrind:
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

    printf("smoke: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
