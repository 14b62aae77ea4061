#!/usr/bin/env node
// drainpipe's entry point. Its first lines install the SIGTERM/SIGINT handlers, before
// anything else loads: the rest (pino, prom-client, undici, the AWS SDK) takes 100 ms or more
// to import, and a signal in that window would kill the process (or, as PID 1 in a container,
// be dropped: the pod would serve on until SIGKILL). Signals that come early are queued and
// handed to main.ts, which acts on them once it can. (Node's own boot, before this file runs,
// is the one window left: see docs/lifecycle.md.)
import type { EarlySignals } from './main.js'

const early: EarlySignals = { received: [], release: () => {} }
const onTerm = () => {
  early.received.push('SIGTERM')
}
const onInt = () => {
  early.received.push('SIGINT')
}
process.on('SIGTERM', onTerm)
process.on('SIGINT', onInt)
early.release = () => {
  process.off('SIGTERM', onTerm)
  process.off('SIGINT', onInt)
}

try {
  const { main } = await import('./main.js')
  await main(early)
} catch (err) {
  process.stderr.write(`drainpipe: fatal: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
}
