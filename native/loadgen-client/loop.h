/*
 * loop.h: the engine's event loop: one thread, one epoll set, a few timers
 * (pacing tick, timeout scan, progress, deadline), and batched reads.
 *
 * Why C: the point of the engine. The loop sleeps until the next of its
 * timers or the next --batch-ms on a fixed schedule, and then drains what
 * epoll has ready with a zero timeout, so the thousands of heartbeats that
 * arrive in a batch period cost one wake-up, not one each. With --batch-ms 0
 * it waits in epoll_wait instead and is woken by every event.
 */
#ifndef LOADGEN_LOOP_H
#define LOADGEN_LOOP_H

#include "ipc.h"
#include "messages.h"

/*
 * Runs the plan until the coordinator's stop, the end of the channel, or the
 * plan's deadline; then stops every connection and sends the result. Returns
 * the exit status.
 */
int loop_run(const struct plan *plan, struct ipc *ipc);

#endif
