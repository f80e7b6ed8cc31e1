// REDIS_URL may carry a password (redis://:secret@host:port, or
// redis://user:secret@host:port for an ACL user). Every log line and error
// message that shows the URL goes through this, so the password never reaches
// a log file, pm2's logs or a terminal's scrollback.

const MASK = '***';

export function redactUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // Not a URL (a password with an unescaped / or # breaks parsing): mask
    // everything from the first colon after the user name up to the last @.
    return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:).*@/is, `$1${MASK}@`);
  }
  if (url.password === '') return raw;
  url.password = MASK;
  return url.toString();
}
