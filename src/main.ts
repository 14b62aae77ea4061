// drainpipe after its entry (cli.ts) installed the signal handlers: parse options (a bad one
// exits 2 naming it), start, and run the termination sequence on SIGTERM/SIGINT or /prestop.
//
// Signals: the first SIGTERM or SIGINT starts termination. A repeated SIGTERM is ignored (the
// kubelet does not repeat it; anything else that does must not cut the wait short). A second
// SIGINT (Ctrl-C twice at a terminal) ends the wait for the load balancer and drains at once.
// The exit status says how termination went (exit-status.ts).
import { fs } from './builtins.js'
import { ConfigError, parseConfig, redactedConfig, renderHelp } from './config.js'
import { createLogger } from './log.js'
import { startSidecar } from './sidecar.js'
import type { Trigger } from './lifecycle/shutdown.js'
import { describePlan, graceBudget } from './lifecycle/grace-budget.js'
import { exitStatus } from './lifecycle/exit-status.js'
import { adminGuardNotice } from './admin/auth.js'
import { SUBCOMMANDS, runSubcommandIfAny } from './inject/cli.js'

/** Signals that arrived before main ran, and how to remove the handlers that queued them. */
export interface EarlySignals {
  received: Array<'SIGTERM' | 'SIGINT'>
  release(): void
}

const version = (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

export async function main(early: EarlySignals): Promise<void> {
  // `drainpipe inject|uninject|webhook ...` are commands, not the sidecar: signals act as usual.
  if ((SUBCOMMANDS as readonly string[]).includes(process.argv[2] ?? '')) {
    early.release()
    for (const signal of early.received) process.kill(process.pid, signal)
    await runSubcommandIfAny(process.argv.slice(2))
  }
  // From here until the sidecar started, signals queue as before; they are acted on after.
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
    early.release()
    return
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${version}\n`)
    early.release()
    return
  }
  const { config, warnings } = parsed
  const logger = createLogger(config.logLevel)
  logger.info({ version, node: process.version, config: redactedConfig(config) }, 'starting')
  for (const w of warnings) logger.warn(w)
  const budget = graceBudget(config)
  logger.info(
    {
      maxWaitMs: budget.maxWaitMs,
      drainTimeoutMs: budget.drainTimeoutMs,
      marginMs: budget.marginMs,
      gracePeriodMs: budget.gracePeriodMs ?? null,
    },
    describePlan(budget),
  )
  const guard = adminGuardNotice(config.adminToken)
  if (guard) logger.warn(guard)

  // Signals are handled from here on, also while starting: a pod deleted during start-up
  // still gets a clean, observed shutdown once the ports are open.
  let sidecar: Awaited<ReturnType<typeof startSidecar>> | undefined
  let pending: Trigger | undefined
  let signals = 0
  let sigints = 0
  let exiting = false

  // Exit once drained. A signal during a /prestop-driven drain (classic sidecars get SIGTERM
  // while the app's preStop still waits on us) waits for the drain; after a /prestop drain
  // drainpipe stays up with the pod port closed until the signal, then exits at once (a
  // native sidecar that exits early would be restarted).
  const exit = async () => {
    if (exiting || !sidecar) return
    exiting = true
    await sidecar.close()
    const report = sidecar.shutdown.report
    const status = exitStatus(report)
    logger.info({ report, exitStatus: status.code, meaning: status.meaning }, 'exiting')
    logger.flush?.()
    process.exit(status.code)
  }
  const act = (signal: Trigger) => {
    if (!sidecar) return
    if (sidecar.lifecycle.state === 'drained') void exit()
    else void sidecar.terminate(signal).then(exit)
  }
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    signals++
    if (signal === 'SIGINT') sigints++
    if (signals > 1) {
      if (signal === 'SIGINT' && sigints > 1) {
        if (sidecar?.endWait('second SIGINT')) return
        if (!sidecar) {
          pendingHurry = true
          return
        }
      }
      logger.info({ signal, state: sidecar?.lifecycle.state ?? 'starting' }, 'signal received again: ignored, termination is under way')
      return
    }
    if (sidecar) act(signal)
    else pending = signal
  }
  let pendingHurry = false
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
  early.release()
  for (const s of early.received) onSignal(s)

  try {
    sidecar = await startSidecar(config, logger, version)
  } catch (err) {
    logger.fatal({ err }, 'could not start')
    logger.flush?.()
    process.exit(1)
  }
  if (pending) act(pending)
  if (pendingHurry) sidecar.endWait('second SIGINT')
}
