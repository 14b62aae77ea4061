// pino JSON logs on stdout: lifecycle at info, one line per connection/request at debug,
// errors with their cause.
//
// Written synchronously: drainpipe exits right after its last lines ("drained", "exiting"), and
// with pino's default asynchronous destination a line still being written by the thread pool
// could land after lines flushed synchronously at exit (seen under load: "drained" before
// "draining"), or be lost. At info level drainpipe logs a few lines per termination, so the
// blocking write costs nothing that matters; debug's per-request lines are for diagnosis.
import { pino, type Logger } from 'pino'
import type { LogLevel } from './config.js'

export type { Logger }

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { name: 'drainpipe' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }))
}
