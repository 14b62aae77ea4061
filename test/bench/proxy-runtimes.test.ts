// bench:proxy --node LINES: the per-runtime driver (bench/proxy/runtimes.ts) runs the benchmark
// once per line and round and prints one table and one JSON line. Smoke-tested with the line
// `system` (this node, no registry download), 200 requests per cell; figures are not judged.
// A bad --node value exits 2 naming the flag and what it takes.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { needs } from '../helpers/processes.js'

const CLI = fileURLToPath(new URL('../../build/proxy/cli.js', import.meta.url))

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8')
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8')
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })))
}

t.test('--node with a bad value exits 2, naming the flag and what it takes', async (t) => {
  for (const bad of ['twenty', '22,,x', '']) {
    const r = await run(['--node', bad])
    t.equal(r.code, 2, `--node '${bad}' exits 2`)
    t.match(r.err, /--node takes Node lines separated by commas/, 'the message names the flag and the form')
  }
})

t.test(
  '--node system:FLAG: one run per round with the flag on drainpipe, a table and a JSON line keyed by the entry',
  { skip: needs('haproxy') },
  async (t) => {
    const entry = 'system:--max-semi-space-size=2'
    const r = await run([
      '--node',
      entry,
      '--requests',
      '200',
      '--connections',
      '4',
      '--skip-extras',
      '--paths',
      'drainpipe-tcp,haproxy-tcp',
    ])
    t.equal(r.code, 0, 'exits 0', { err: r.err.slice(-800) })
    const lines = r.out.trim().split('\n')
    const report = JSON.parse(lines.at(-1) ?? '{}') as {
      bench: string
      lines: string[]
      versions: string[]
      table: Record<string, Record<string, string>>
      runs: Record<string, { throughput: Array<{ node: string; nodeArgs: string[] }> }>
    }
    t.equal(report.bench, 'proxy-runtimes')
    t.same(report.lines, [entry])
    t.same(report.versions, [`${process.version} --max-semi-space-size=2`], 'the line ran on the node it names, with the flag')
    const runs = report.runs[entry]?.throughput ?? []
    t.equal(runs.length, 2, 'two rounds by default, each a run of its own')
    t.same(
      runs.map((x) => x.nodeArgs),
      [['--max-semi-space-size=2'], ['--max-semi-space-size=2']],
      "each run gave drainpipe's node the flag",
    )
    const tcpRatio = report.table['tcp keep-alive CPU/req ×HAProxy (target ≤ 1.2)']?.[entry] ?? ''
    t.match(tcpRatio, /^(\d+\.\d\d×|–)$/, 'the tcp keep-alive ratio is printed (or – when a run used no measurable CPU)')
    t.ok(
      lines.some((l) => l.includes('bench:proxy per Node line')),
      'the table heading is printed',
    )
  },
)
