// What a topic, an update id, an event type and a matcher may contain, and the
// hub's own reserved namespace. Spec: "Terminology" (topics), "Publication"
// (id, type, retry, the reserved namespace) and "Subscription" (matcher values).

/**
 * C0 and C1 controls, DEL, and Unicode format characters (general category
 * Cf: bidirectional and zero-width controls, which are invisible and let one
 * identifier pass for another). A lone surrogate cannot occur: every value is
 * decoded from UTF-8 that was checked to be valid.
 */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\p{Cf}]/u;

export function hasForbiddenCharacters(value: string): boolean {
  return FORBIDDEN.test(value);
}

/** The path every hub-generated topic lives under; publishers may not use it. */
export const HUB_PATH = '/.well-known/mercure';

// A base for resolving relative topics and patterns. Only the path of a
// resolved topic is compared with the hub's path, so any origin serves; the
// hub's own URL is used where one is configured.
const DEFAULT_BASE = `https://hub.invalid${HUB_PATH}`;

/**
 * Whether `topic`, resolved against the hub's URL, names a path at or under
 * the hub's. WHATWG URL parsing removes dot segments; percent-encoded
 * unreserved characters are decoded here as well, so that neither
 * `/.well-known/mercure/../mercure/x` nor `/.well-known/%6Dercure/x` slips
 * past (spec: Publication, the `topic` field).
 */
export function addressesHubNamespace(topic: string, base = DEFAULT_BASE): boolean {
  let url: URL;
  try {
    url = new URL(topic, base);
  } catch {
    // Not a URL reference: it cannot name a path of the hub.
    return false;
  }
  let path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape;
  });
  // Decoding may have exposed new dot segments (%2E%2E): resolve once more.
  if (path !== url.pathname) path = new URL(path, 'https://hub.invalid').pathname;
  return path === HUB_PATH || path.startsWith(`${HUB_PATH}/`);
}

/** The event id of a generated update: a fragment, which a publisher's id may never be (it may not start with #). */
export function isGeneratedId(id: string): boolean {
  return id.startsWith('#');
}
