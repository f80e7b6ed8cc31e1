#!/bin/sh
# Builds the load generator's C engine (native/loadgen-client/*.c) into
# dist/loadgen/million-sse-client; `npm run build` runs it after tsc.
# Without a C compiler, or off Linux (the engine uses epoll), it prints one
# line and removes any stale binary, so the build still succeeds and
# `million-sse-loadgen --engine c` says how to get the engine; the Node
# engine (the default) needs none of this.
# CC picks the compiler (default cc); CFLAGS replaces the default flags.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/native/loadgen-client"
out="$root/dist/loadgen/million-sse-client"
cc=${CC:-cc}

if ! command -v "$cc" >/dev/null 2>&1; then
  rm -f "$out"
  echo "build-native: no C compiler ($cc) found; the load generator's C engine (--engine c) was skipped"
  exit 0
fi
# The engine waits on epoll, which only Linux has.
if [ "$(uname -s)" != Linux ]; then
  rm -f "$out"
  echo "build-native: the load generator's C engine (--engine c) needs Linux; skipped on $(uname -s)"
  exit 0
fi

mkdir -p "$(dirname "$out")"
# Built beside the target and renamed into place, so a failed build leaves no half-written binary.
# shellcheck disable=SC2086 # CFLAGS is a list of flags
"$cc" ${CFLAGS:--O2 -Wall -Wextra -std=gnu11} -o "$out.tmp" "$src"/*.c
mv -f "$out.tmp" "$out"
