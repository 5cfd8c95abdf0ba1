#include "util/thread.h"

#include <pthread.h>

int crisp_run_on_own_thread(void *(*fn)(void *), void *arg, const char *what, struct crisp_err *err)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e != 0)
        return crisp_syserrf(err, e, "start a thread to %s", what);
    pthread_join(t, NULL);
    return 0;
}

int crisp_thread_start_detached(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return e;
}
