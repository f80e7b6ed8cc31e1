// An update's bytes on the wire, built once per worker and shared by every
// subscriber it goes to. Format:
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
import { eventIdOf, type StoredUpdate } from './update.js';

const LINE_BREAK = /\r\n|\r|\n/;

// Publication refuses CR and LF in ids and types; an entry written into the
// history by something else is still kept from injecting a field.
function oneLine(value: string): string {
  return value.replace(/[\r\n\0]/g, ' ');
}

export function eventFrame(update: StoredUpdate): Buffer {
  let frame = `id: ${oneLine(eventIdOf(update))}\n`;
  if (update.type !== undefined) frame += `event: ${oneLine(update.type)}\n`;
  if (update.retry !== undefined && Number.isSafeInteger(update.retry)) frame += `retry: ${update.retry}\n`;
  // One data line per line of the payload: a payload cannot add a field.
  frame += `data: ${update.data.split(LINE_BREAK).join('\ndata: ')}\n\n`;
  return Buffer.from(frame, 'utf8');
}

/**
 * The in-band notice that a replay could not be complete (the README's
 * "history gap" event). It carries no id, so the client's last event id stays
 * that of the last update it really received.
 */
export const GAP_EVENT_TYPE = 'million-sse.history-gap';

export function gapFrame(requested: string, reason: 'unknown' | 'trimmed'): Buffer {
  return Buffer.from(`event: ${GAP_EVENT_TYPE}\ndata: ${JSON.stringify({ requested: oneLine(requested), reason })}\n\n`, 'utf8');
}
