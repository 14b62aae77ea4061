#!/usr/bin/env node
// npm run bench:scenarios -- [--quick] [--json] [--seeds N] [--regimes a,b] [--strategies a,b]
//                            [--concurrency N] [lab flags: --time-scale, --drainpipe PATH, …]
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseCliArgs, UsageError, renderHelp as renderLabHelp } from '../options.js'
import { installExitHooks } from '../kube/processes.js'
import { parseStrategy, type StrategyName } from '../strategies.js'
import { REGIMES, STRATEGY_SET, QUICK } from './regimes.js'
import { runMatrix } from './run.js'
import { renderMatrix, verdicts, matrixJson } from './report.js'

interface MatrixCli {
  quick: boolean
  json: boolean
  seeds: number | undefined
  firstSeed: number
  regimes: string[] | undefined
  strategies: StrategyName[] | undefined
  concurrency: number
  help: boolean
  labArgs: string[]
}

function parse(argv: string[]): MatrixCli {
  const out: MatrixCli = {
    quick: false,
    json: false,
    seeds: undefined,
    firstSeed: 1,
    regimes: undefined,
    strategies: undefined,
    concurrency: 1,
    help: false,
    labArgs: [],
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') ? arg.slice(2, eq === -1 ? undefined : eq) : ''
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1)
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`--${flag} needs a value`, flag)
      return next
    }
    const count = (min: number, max: number): number => {
      const text = value()
      const n = Number(text)
      if (!Number.isInteger(n) || n < min || n > max)
        throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`, flag)
      return n
    }
    switch (flag) {
      case 'quick':
        out.quick = true
        break
      case 'json':
        out.json = true
        break
      case 'help':
        out.help = true
        break
      case 'seeds':
        out.seeds = count(1, 100)
        break
      case 'first-seed':
        out.firstSeed = count(0, 2 ** 31)
        break
      case 'concurrency':
        out.concurrency = count(1, 8)
        break
      case 'regimes': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
        for (const n of names)
          if (!REGIMES.some((r) => r.name === n))
            throw new UsageError(`--regimes: unknown regime ${JSON.stringify(n)} (one of ${REGIMES.map((r) => r.name).join(', ')})`, flag)
        out.regimes = names
        break
      }
      case 'strategies': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
        for (const n of names)
          if (parseStrategy(n) === undefined) throw new UsageError(`--strategies: unknown strategy ${JSON.stringify(n)}`, flag)
        out.strategies = names as StrategyName[]
        break
      }
      default:
        out.labArgs.push(arg)
        if (eq === -1 && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out.labArgs.push(argv[++i]!)
    }
  }
  return out
}

function help(): string {
  return [
    'Scenario matrix: every regime × strategy × seed as a rolling update behind the simulated NLB.',
    '',
    'Usage: npm run bench:scenarios -- [flags]',
    '',
    `  --quick               reduced matrix (under 3 minutes), one seed: ${QUICK.cases.map(([r, s]) => `${r}/${s}`).join(', ')}`,
    '  --seeds N             seeds per regime × strategy (default 3; seeds 1..N)',
    '  --first-seed N        first seed (default 1)',
    '  --regimes a,b         only these regimes',
    `  --strategies a,b      only these strategies (default ${STRATEGY_SET.join(',')})`,
    '  --concurrency N       runs at once (default 1; more is faster and stalls the harness more on a small machine)',
    '  --json                last stdout line: {"scenarios":[{"regime","strategy","seeds","requests","failed","seedsWithFailures","podLifeSeconds":{"p50","max"},"exitAfterLastLbConnectionSeconds":{"p50","max"},"expectedToFail"}]}',
    '  any bench:rollout flag sets the base every regime starts from (--time-scale, --drainpipe PATH, --window-floor-wall, …)',
    '',
    'Regimes:',
    ...REGIMES.map((r) => `  ${r.name.padEnd(20)} ${r.about}`),
    '',
  ].join('\n')
}

async function main(): Promise<void> {
  let cli: MatrixCli
  let lab
  try {
    cli = parse(process.argv.slice(2))
    lab = parseCliArgs(cli.labArgs)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:scenarios: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (cli.help) {
    process.stdout.write(
      help() +
        '\nBase lab flags:\n' +
        renderLabHelp()
          .split('\n')
          .filter((l) => l.startsWith('  --'))
          .join('\n') +
        '\n',
    )
    return
  }
  installExitHooks()
  const print = cli.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`)
  const runDir = lab.out !== undefined ? resolve(lab.out) : mkdtempSync(join(tmpdir(), 'drainpipe-scenarios-'))
  mkdirSync(runDir, { recursive: true })
  const regimeNames = cli.regimes ?? (cli.quick ? [...new Set(QUICK.cases.map(([r]) => r))] : REGIMES.map((r) => r.name))
  const strategies = cli.strategies ?? (cli.quick ? [...new Set(QUICK.cases.map(([, s]) => s))] : STRATEGY_SET)
  const seedCount = cli.seeds ?? (cli.quick ? QUICK.seeds : 3)
  const seeds = Array.from({ length: seedCount }, (_, i) => cli.firstSeed + i)
  const base = { ...lab.lab, runDir }
  print(
    `scenario matrix: ${cli.quick ? `${QUICK.cases.length} cases` : `${regimeNames.length} regimes × ${strategies.length} strategies`} × ${seeds.length} seeds, time scale ${base.timeScale} ` +
      `(1 simulated s = ${base.timeScale * 1000} ms), drainpipe ${base.drainpipePath}, concurrency ${cli.concurrency}; logs in ${runDir}`,
  )
  const started = Date.now()
  const report = await runMatrix({
    base,
    regimes: REGIMES.filter((r) => regimeNames.includes(r.name)),
    strategies,
    seeds,
    concurrency: cli.concurrency,
    progress: print,
    ...(cli.quick ? { cases: QUICK.cases } : {}),
  })
  print('')
  print(renderMatrix(report.rows))
  print('')
  print(
    '(seconds are simulated AWS seconds; failed = requests refused, reset, timed out or non-2xx, summed over seeds, (seeds with any failure / seeds);',
  )
  print(" pod life = termination start to the last container's exit, over every old pod of every seed;")
  print(" exit − last LB conn = the pod's exit minus the LB's last new connection to it: below 0 the LB sent to a pod already gone)")
  for (const v of verdicts(report.rows)) print(`verdict ${v}`)
  for (const note of report.unscaled) print(`duration ${note}`)
  print(`wall-clock ${((Date.now() - started) / 1000).toFixed(0)} s`)
  writeFileSync(join(runDir, 'matrix.json'), JSON.stringify({ options: base, rows: report.rows, unscaled: report.unscaled }, null, 2))
  if (cli.json) process.stdout.write(`${matrixJson(report.rows)}\n`)
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(`bench:scenarios: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
