/* pkg/events: order, many subscribers, a stalled subscriber overflows
 * without blocking anyone, shutdown. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/events.h"

/* The "message" is "<kind>:<id>". */
static uint8_t *build(void *ctx, const struct crisp_event *ev, size_t *len)
{
    (*(int *)ctx)++;
    char *s;
    *len = (size_t)asprintf(&s, "%d:%s", ev->kind, ev->id);
    return (uint8_t *)s;
}

static int overflows;
static void on_overflow(void *ctx)
{
    (void)ctx;
    overflows++;
}

static void expect_next(struct crisp_event_sub *s, const char *want)
{
    uint8_t *msg;
    size_t len;
    assert_int_equal(crisp_events_next(s, 2000, &msg, &len), 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(msg, want, len);
    free(msg);
}

static void test_order_overflow_and_stop(void **state)
{
    (void)state;
    int built = 0;
    struct crisp_err err;
    assert_int_equal(crisp_events_start(build, &built, &err), 0);
    crisp_event_emit(CRISP_EVENT_CREATED, "nobody-listens", "p");
    struct crisp_event_sub *reader = crisp_events_subscribe(NULL, NULL);
    struct crisp_event_sub *stalled = crisp_events_subscribe(on_overflow, NULL);
    assert_int_equal(crisp_events_subscribers(), 2);
    uint8_t *msg;
    size_t len;
    assert_int_equal(crisp_events_next(reader, 10, &msg, &len), 0); /* timeout, nothing */

    int total = CRISP_EVENTS_SUB_BUFFER + 64; /* both multiples of the batch */
    for (int batch = 0; batch < total; batch += 64) {
        char id[32], want[40];
        for (int i = batch; i < batch + 64; i++) {
            snprintf(id, sizeof(id), "c%d", i);
            crisp_event_emit((enum crisp_event_kind)(i % 4), id, "p");
        }
        for (int i = batch; i < batch + 64; i++) {
            snprintf(want, sizeof(want), "%d:c%d", i % 4, i);
            expect_next(reader, want);
        }
    }
    assert_int_equal(built, total); /* once per event, not per subscriber */
    assert_int_equal(overflows, 1);
    assert_true(crisp_events_overflowed(stalled));
    assert_false(crisp_events_overflowed(reader));
    assert_int_equal(crisp_events_next(stalled, 10, &msg, &len), -ENOBUFS);
    crisp_events_unsubscribe(stalled);
    assert_int_equal(crisp_events_subscribers(), 1);

    crisp_events_stop();
    assert_int_equal(crisp_events_next(reader, 1000, &msg, &len), -ESHUTDOWN);
    crisp_events_unsubscribe(reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_overflow_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
