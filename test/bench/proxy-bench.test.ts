// bench:proxy keeps working: a smoke run (one round, each cell ending after 200 requests, no
// extras) ends by itself and its last stdout line is the JSON report, with a row per cell and
// no errors. Figures are not judged here (benchmarks print ratios; they are never timed tests).
// Without HAProxy on PATH the HAProxy paths are left out of the run and their checks skipped.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { needs } from '../helpers/processes.js'

const CLI = fileURLToPath(new URL('../../build/proxy/cli.js', import.meta.url))

interface Cell {
  path: string
  header: boolean
  keepAlive: boolean
  rps: number
  errors: number
  cpuSPer10k: number
}
interface Report {
  bench: string
  cells: Cell[]
  goals: Array<{ name: string }>
}

const noHaproxy = needs('haproxy')
const NODE_PATHS = ['direct', 'drainpipe-tcp', 'drainpipe-http', 'http-proxy', 'direct-h2c', 'drainpipe-h2c']
const HAPROXY_PATHS = ['haproxy-tcp', 'haproxy-http', 'haproxy-h2c']
const paths = [...NODE_PATHS, ...(noHaproxy ? [] : HAPROXY_PATHS)]
// Paths that read a PROXY header run with and without one; every path under both loads, except
// HTTP/2 paths (keep-alive only).
const cellsOf = (p: string) => (p.startsWith('drainpipe') || p.startsWith('haproxy') ? 4 : 2) / (p.endsWith('-h2c') ? 2 : 1)

async function smokeRun(): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    [CLI, '--requests', '200', '--rounds', '1', '--connections', '4', '--skip-extras', '--paths', paths.join(',')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, out, err }
}

const run = await smokeRun()
const lines = run.out.trimEnd().split('\n')
const report = (() => {
  try {
    return JSON.parse(lines[lines.length - 1]!) as Report
  } catch {
    return null
  }
})()

function checkCells(t: { equal: typeof t.equal; ok: typeof t.ok }, which: string[]) {
  const cells = report?.cells.filter((c) => which.includes(c.path)) ?? []
  t.equal(
    cells.length,
    which.reduce((n, p) => n + cellsOf(p), 0),
    `a cell per path, load and header for ${which.join(', ')}`,
  )
  for (const c of cells) {
    const name = `${c.path} ${c.header ? 'pp2' : 'plain'} ${c.keepAlive ? 'keep-alive' : 'conn/req'}`
    t.ok(c.rps > 0, `${name} served requests`)
    t.equal(c.errors, 0, `${name} without errors`)
  }
}

t.test(`a smoke run exits 0 with a table and a JSON line covering ${NODE_PATHS.join(', ')}`, async (t) => {
  t.equal(run.code, 0, `exit code (stderr: ${run.err.slice(-800)})`)
  t.equal(report?.bench, 'proxy', 'the last stdout line is the JSON report')
  t.match(run.out, /drainpipe http\s+PROXY v2, keep-alive/, 'the table has the drainpipe rows')
  checkCells(t, NODE_PATHS)
  t.ok(
    report?.goals.some((g) => g.name.includes('http-proxy')),
    'goals against http-proxy evaluated',
  )
})

t.test(`the same run covers ${HAPROXY_PATHS.join(', ')} and the goals against HAProxy`, { skip: noHaproxy }, async (t) => {
  checkCells(t, HAPROXY_PATHS)
  t.ok(
    report?.goals.some((g) => g.name.includes('HAProxy tcp')),
    'tcp goals against HAProxy evaluated',
  )
  t.ok(
    report?.goals.some((g) => g.name.includes('HAProxy http')),
    'http goals against HAProxy evaluated',
  )
  t.equal((report as { h2cRatios?: unknown[] } | null)?.h2cRatios?.length, 2, 'h2c ratios against HAProxy, with and without PROXY v2')
  t.match(run.out, /HTTP\/2 \(h2c both sides\), drainpipe against HAProxy/, 'printed')
})
