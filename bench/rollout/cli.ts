#!/usr/bin/env node
// npm run bench:rollout -- [flags]   (see --help)
import { parseCliArgsOrExit, renderHelp } from './options.js'
import { runLab, summaryJson } from './run.js'

async function main(): Promise<void> {
  const cli = parseCliArgsOrExit(process.argv.slice(2), 'bench:rollout')
  if (cli.help) {
    process.stdout.write(renderHelp())
    return
  }
  // With --json, stdout's last line is the summary: progress goes to stderr.
  const print = cli.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`)
  const report = await runLab(cli, print)
  const unit = `seconds are simulated (AWS) seconds; time scale ${cli.lab.timeScale}`
  print('')
  print(report.table)
  print(`(${unit}; rollout = from the update's start until the last old pod exited)`)
  print(`chart: ${report.chartPath}`)
  print(`pod logs and results.json: ${report.runDir}`)
  if (cli.json) process.stdout.write(`${summaryJson(report.results)}\n`)
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(`bench:rollout: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
