// A publish request's form fields, checked as the spec's Publication section
// says, and turned into an Update. Anything the hub cannot store and forward
// exactly as sent is refused here, before it reaches the history.
import { MercureBadRequest, MercureTooLarge } from '../errors.js';
import type { FormPairs } from '../http/form-body.js';
import { GAP_EVENT_TYPE } from './event-frame.js';
import { addressesHubNamespace, hasForbiddenCharacters } from './topic-rules.js';
import type { Update } from './update.js';

export interface PublishLimits {
  maxTopics: number;
  maxTopicLength: number;
  /** The hub's URL, against which topics are resolved for the reserved-namespace rule. */
  base: string;
}

function single(pairs: FormPairs, name: string): string | undefined {
  for (const [key, value] of pairs) if (key === name) return value;
  return undefined;
}

function checkLine(name: string, value: string, limits: PublishLimits): void {
  if (value.length > limits.maxTopicLength) throw new MercureTooLarge(`"${name}" is longer than ${limits.maxTopicLength} characters`);
  // CR and LF would end the SSE field and start another; NUL and the other controls have no business in an identifier.
  if (hasForbiddenCharacters(value)) throw new MercureBadRequest(`"${name}" may not contain control or Unicode format characters`);
}

export function parsePublishRequest(pairs: FormPairs, limits: PublishLimits): Update {
  const topics: string[] = [];
  for (const [key, value] of pairs) {
    if (key !== 'topic') continue;
    if (topics.length === limits.maxTopics) throw new MercureTooLarge(`more than ${limits.maxTopics} "topic" fields`);
    topics.push(value);
  }
  if (topics.length === 0) throw new MercureBadRequest('missing "topic": an update needs at least one');
  for (const topic of topics) {
    if (topic === '') throw new MercureBadRequest('a "topic" may not be empty');
    checkLine('topic', topic, limits);
    if (topic === '*') throw new MercureBadRequest('"*" is the wildcard and cannot be published to');
    if (addressesHubNamespace(topic, limits.base)) throw new MercureBadRequest(`topic ${JSON.stringify(topic)} is in the hub's reserved namespace (/.well-known/mercure)`);
  }
  const id = single(pairs, 'id');
  if (id !== undefined) {
    if (id === '') throw new MercureBadRequest('"id" may not be empty');
    checkLine('id', id, limits);
    if (id.startsWith('#')) throw new MercureBadRequest('"id" may not start with #: such ids are the hub\'s own');
    if (id === 'earliest') throw new MercureBadRequest('"id" may not be "earliest", which asks for the whole history');
  }
  const type = single(pairs, 'type');
  if (type !== undefined) {
    checkLine('type', type, limits);
    if (type === 'mercure' || type === GAP_EVENT_TYPE) throw new MercureBadRequest(`"type" ${JSON.stringify(type)} is reserved for events the hub writes itself`);
  }
  const retryText = single(pairs, 'retry');
  let retry: number | undefined;
  if (retryText !== undefined) {
    if (!/^[0-9]{1,10}$/.test(retryText)) throw new MercureBadRequest('"retry" must be ASCII digits (milliseconds), at most 10 of them');
    retry = Number(retryText);
  }
  const data = single(pairs, 'data') ?? '';
  // Line breaks are fine (each line becomes a data: field); NUL is not text.
  if (data.includes('\0')) throw new MercureBadRequest('"data" may not contain NUL');
  return {
    topics,
    data,
    // Present means private, whatever its value (spec: Publication).
    private: pairs.some(([key]) => key === 'private'),
    id,
    type: type === '' ? undefined : type,
    retry,
  };
}
