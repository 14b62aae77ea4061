#!/usr/bin/env node
// npm run demo: the rollout lab on its defaults — none, a sleep sweep (30/90/130/180 s),
// elbv2-only, drainpipe, drainpipe+elbv2 — each a rolling update of 3 real pods behind the
// simulated NLB under the same load.
// Accepts the same flags as bench:rollout (see `npm run bench:rollout -- --help`).
import { parseCliArgsOrExit } from './options.js'
import { runLab } from './run.js'

async function main(): Promise<void> {
  const cli = parseCliArgsOrExit(process.argv.slice(2), 'demo')
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }
  print('drainpipe demo: the same rolling update, under the same load, with each termination strategy.')
  print('The simulated NLB keeps opening new connections to a target for 90-180 s after DeregisterTargets')
  print('(drawn per LB node, as field reports describe); pods that stop serving before that drop requests.')
  print('A long enough sleep is safe too: the question is how long, and what it costs. Times run 20x faster here.')
  print('')
  const started = Date.now()
  const report = await runLab(cli, print)
  print('')
  print(report.table)
  print(
    `(seconds are simulated AWS seconds at time scale ${cli.lab.timeScale}; rollout = until the last old pod exited; ` +
      `failed = non-2xx + resets/refused + timeouts, counted by the load generator)`,
  )
  print(`wall-clock: ${((Date.now() - started) / 1000).toFixed(0)} s`)
  print(`chart: ${report.chartPath}`)
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
