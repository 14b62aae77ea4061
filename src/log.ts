// pino JSON logs on stdout: lifecycle at info, one line per connection/request at debug,
// errors with their cause.
import { pino, type Logger } from 'pino'
import type { LogLevel } from './config.js'

export type { Logger }

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { name: 'drainpipe' }, timestamp: pino.stdTimeFunctions.isoTime })
}
