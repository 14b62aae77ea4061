#!/usr/bin/env node
// drainpipe's entry point: parse options (a bad one exits 2 naming it), start, and run the
// termination sequence on SIGTERM/SIGINT or /prestop.
import { readFileSync } from 'node:fs'
import { ConfigError, parseConfig, redactedConfig, renderHelp } from './config.js'
import { createLogger } from './log.js'
import { startSidecar } from './sidecar.js'
import type { Trigger } from './lifecycle/shutdown.js'
import { runSubcommandIfAny } from './inject/cli.js'

// `drainpipe inject|uninject|webhook ...` run and exit there; anything else is the sidecar.
await runSubcommandIfAny(process.argv.slice(2))

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`drainpipe: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (parsed.kind === 'help') {
    process.stdout.write(renderHelp(version))
    return
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${version}\n`)
    return
  }
  const { config, warnings } = parsed
  const logger = createLogger(config.logLevel)
  logger.info({ version, node: process.version, config: redactedConfig(config) }, 'starting')
  for (const w of warnings) logger.warn(w)

  // Signals are handled from here on, also while starting: a pod deleted during start-up
  // still gets a clean, observed shutdown once the ports are open.
  let sidecar: Awaited<ReturnType<typeof startSidecar>> | undefined
  let pending: Trigger | undefined
  let signals = 0
  let exiting = false

  // Exit once drained. A signal during a /prestop-driven drain (classic sidecars get SIGTERM
  // while the app's preStop still waits on us) waits for the drain; after a /prestop drain
  // drainpipe stays up with the pod port closed until the signal, then exits at once (a
  // native sidecar that exits early would be restarted).
  const exit = async () => {
    if (exiting || !sidecar) return
    exiting = true
    await sidecar.close()
    logger.info({ report: sidecar.shutdown.report }, 'exiting')
    logger.flush?.()
    process.exit(0)
  }
  const act = (signal: Trigger) => {
    if (!sidecar) return
    if (sidecar.lifecycle.state === 'drained') void exit()
    else void sidecar.terminate(signal).then(exit)
  }
  const onSignal = (signal: Trigger) => {
    signals++
    if (signals > 1) {
      logger.info({ signal, state: sidecar?.lifecycle.state ?? 'starting' }, 'signal received again: ignored, termination is under way')
      return
    }
    if (sidecar) act(signal)
    else pending = signal
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))

  try {
    sidecar = await startSidecar(config, logger, version)
  } catch (err) {
    logger.fatal({ err }, 'could not start')
    logger.flush?.()
    process.exit(1)
  }
  if (pending) act(pending)
}

main().catch((err) => {
  process.stderr.write(`drainpipe: fatal: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
