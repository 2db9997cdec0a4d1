/*
 * verifier.c - worker threads for auth_verify_password().
 *
 * Two queues under one mutex: jobs waiting for a worker (todo) and jobs
 * done (done). A worker takes a job, checks the password without the
 * lock, puts the job on done and writes one byte to a pipe; the event
 * loop reads the pipe and runs the callbacks of everything done. The
 * password copy is wiped before the job is freed.
 */
#include "common.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "verifier.h"

#define MAX_THREADS 8

struct job {
    char pw[64];
    size_t len;
    char stored[AUTH_STORED_MAX];
    int ok;
    verifier_cb cb;
    void *arg;
    struct job *next;
};

struct verifier {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *todo, *todo_tail, *done;
    unsigned pending, max_pending;
    int stopping;
    pthread_t threads[MAX_THREADS];
    unsigned n_threads;
    int pipe_rd, pipe_wr;
    struct event *pipe_ev;
};

static void job_free(struct job *j)
{
    memset(j->pw, 0, sizeof j->pw);
    free(j);
}

static void *worker(void *arg)
{
    struct verifier *v = arg;
    pthread_mutex_lock(&v->lock);
    for (;;) {
        while (!v->todo && !v->stopping)
            pthread_cond_wait(&v->wake, &v->lock);
        if (v->stopping)
            break;
        struct job *j = v->todo;
        v->todo = j->next;
        if (!v->todo)
            v->todo_tail = NULL;
        pthread_mutex_unlock(&v->lock);
        j->ok = auth_verify_password(j->pw, j->len, j->stored);
        pthread_mutex_lock(&v->lock);
        j->next = v->done;
        v->done = j;
        char one = 1;
        /* a full pipe already means the loop has something to read; any
         * other failure is left to the next job's byte */
        if (write(v->pipe_wr, &one, 1) < 0 && errno != EAGAIN)
            continue;
    }
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

/* On the event loop: run the callbacks of what the workers finished. */
static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct verifier *v = arg;
    char buf[256];
    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&v->lock);
    struct job *list = v->done;
    v->done = NULL;
    pthread_mutex_unlock(&v->lock);
    while (list) {
        struct job *j = list;
        list = j->next;
        pthread_mutex_lock(&v->lock);
        v->pending--;
        pthread_mutex_unlock(&v->lock);
        j->cb(j->ok, j->arg);
        job_free(j);
    }
}

struct verifier *verifier_new(struct event_base *base, unsigned threads,
                              unsigned max_pending)
{
    struct verifier *v = calloc(1, sizeof *v);
    int fds[2];
    if (!v || pipe(fds) != 0) {
        free(v);
        return NULL;
    }
    v->pipe_rd = fds[0];
    v->pipe_wr = fds[1];
    fcntl(v->pipe_rd, F_SETFL, O_NONBLOCK);
    fcntl(v->pipe_wr, F_SETFL, O_NONBLOCK);
    fcntl(v->pipe_rd, F_SETFD, FD_CLOEXEC);
    fcntl(v->pipe_wr, F_SETFD, FD_CLOEXEC);
    v->max_pending = max_pending ? max_pending : 1;
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->wake, NULL);
    v->pipe_ev = event_new(base, v->pipe_rd, EV_READ | EV_PERSIST, on_pipe, v);
    event_add(v->pipe_ev, NULL);
    if (threads == 0)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    for (unsigned i = 0; i < threads; i++)
        if (pthread_create(&v->threads[v->n_threads], NULL, worker, v) == 0)
            v->n_threads++;
    if (v->n_threads == 0) {
        verifier_free(v);
        return NULL;
    }
    return v;
}

int verifier_check(struct verifier *v, const char *pw, size_t len,
                   const char *stored, verifier_cb cb, void *arg)
{
    if (len >= sizeof ((struct job *)0)->pw ||
        strlen(stored) >= sizeof ((struct job *)0)->stored)
        return -1;
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    memcpy(j->pw, pw, len);
    j->len = len;
    memcpy(j->stored, stored, strlen(stored) + 1);
    j->cb = cb;
    j->arg = arg;
    pthread_mutex_lock(&v->lock);
    if (v->pending >= v->max_pending || v->stopping) {
        pthread_mutex_unlock(&v->lock);
        job_free(j);
        return -1;
    }
    v->pending++;
    if (v->todo_tail)
        v->todo_tail->next = j;
    else
        v->todo = j;
    v->todo_tail = j;
    pthread_cond_signal(&v->wake);
    pthread_mutex_unlock(&v->lock);
    return 0;
}

void verifier_free(struct verifier *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->lock);
    v->stopping = 1;
    pthread_cond_broadcast(&v->wake);
    pthread_mutex_unlock(&v->lock);
    for (unsigned i = 0; i < v->n_threads; i++)
        pthread_join(v->threads[i], NULL);
    /* finished checks complete with their result, unstarted ones with -1 */
    struct job *lists[2] = {v->done, v->todo};
    for (int k = 0; k < 2; k++) {
        while (lists[k]) {
            struct job *j = lists[k];
            lists[k] = j->next;
            j->cb(k == 0 ? j->ok : -1, j->arg);
            job_free(j);
        }
    }
    if (v->pipe_ev)
        event_free(v->pipe_ev);
    close(v->pipe_rd);
    close(v->pipe_wr);
    pthread_mutex_destroy(&v->lock);
    pthread_cond_destroy(&v->wake);
    free(v);
}
