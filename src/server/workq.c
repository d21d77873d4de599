/* workq: a mutex-protected FIFO drained by N threads. */
#include "workq.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct job {
	void (*fn)(void *);
	void *arg;
	struct job *next;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stopping;
	int n;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct workq *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		struct job *j = q->head;
		if (!j) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		j->fn(j->arg);
		free(j);
	}
}

struct workq *workq_new(int nthreads)
{
	struct workq *q = xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->n = nthreads;
	q->threads = xcalloc((size_t)nthreads, sizeof(pthread_t));
	for (int i = 0; i < nthreads; i++)
		pthread_create(&q->threads[i], NULL, worker, q);
	return q;
}

void workq_push(struct workq *q, void (*fn)(void *), void *arg)
{
	struct job *j = xmalloc(sizeof *j);
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void workq_free(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < q->n; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}
