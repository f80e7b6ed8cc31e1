// The C engine's binary: where `npm run build` puts it (scripts/build-native.sh
// compiles native/loadgen-client/ there when a C compiler is present), whether
// it is there, and what to tell a user when it is not.
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Resolved from this file's own location, so it works from dist/ wherever the package is installed. */
export const C_ENGINE_BINARY = fileURLToPath(new URL('./million-sse-client', import.meta.url));

/** Why the C engine cannot run, and how to get it. */
export function cEngineMissing(binary = C_ENGINE_BINARY): string {
  return `${binary} is missing: install a C compiler (Debian/Ubuntu: sudo apt-get install -y gcc) and re-run npm run build (on Linux: the engine uses epoll)`;
}

export const C_ENGINE_MISSING = cEngineMissing();

/** Whether the binary is there and executable. */
export function cEngineBuilt(binary = C_ENGINE_BINARY): boolean {
  try {
    accessSync(binary, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
