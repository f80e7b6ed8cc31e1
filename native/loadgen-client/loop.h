/*
 * loop.h: the engine's event loop: one thread, one epoll set, a few timers
 * (pacing tick, timeout scan, progress, deadline), and batched reads.
 *
 * Why C: the point of the engine. Once the ramp is done (or whenever nothing
 * is in flight), the loop sleeps --batch-ms on a fixed schedule and then
 * drains what epoll has ready with a zero timeout, so the thousands of
 * heartbeats that arrive in a batch period cost one wake-up, not one each.
 * During the ramp it waits in epoll_wait with the next timer as timeout, to
 * answer connects promptly.
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
