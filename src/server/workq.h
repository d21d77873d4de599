/* workq: a fixed pool of worker threads for Async.* tasks and for
 * synchronous calls that may block, so the HTTP threads never do. */
#ifndef XENON_WORKQ_H
#define XENON_WORKQ_H

struct workq;

struct workq *workq_new(int nthreads);
void workq_push(struct workq *q, void (*fn)(void *arg), void *arg);
/* Finishes queued jobs, then joins the threads. */
void workq_free(struct workq *q);

#endif
