// bench:proxy keeps working: a minimal run (every path, one round of 0.3 s, no extras) ends
// by itself and its last stdout line is the JSON report, with a row per cell and no errors.
// Figures are not judged here (benchmarks print ratios; they are never timed tests).
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../build/proxy/cli.js', import.meta.url))

interface Cell { path: string; header: boolean; keepAlive: boolean; rps: number; errors: number; cpuSPer10k: number }

t.test('a minimal run prints a table and a JSON line covering every path', async (t) => {
  const child = spawn(process.execPath, [CLI, '--duration', '0.3', '--rounds', '1', '--connections', '4', '--skip-extras'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, `exit code (stderr: ${err.slice(-800)})`)
  const lines = out.trimEnd().split('\n')
  const report = JSON.parse(lines[lines.length - 1]!) as { bench: string; cells: Cell[]; goals: unknown[] }
  t.equal(report.bench, 'proxy')
  t.match(out, /drainpipe http\s+PROXY v2, keep-alive/, 'the table has the drainpipe rows')
  // 6 paths without a header × 2 loads, 4 paths that read a header × 2 loads.
  t.equal(report.cells.length, 20)
  for (const c of report.cells) {
    const name = `${c.path} ${c.header ? 'pp2' : 'plain'} ${c.keepAlive ? 'keep-alive' : 'conn/req'}`
    t.ok(c.rps > 0, `${name} served requests`)
    t.equal(c.errors, 0, `${name} without errors`)
  }
  t.ok(report.goals.length > 0, 'goals evaluated')
})
