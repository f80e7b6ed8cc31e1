import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

export type { Logger };

export function createLogger(level: LogLevel, bindings: Record<string, unknown>): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}
