// Profiles drainpipe under load: the app and autocannon on CPU 0, drainpipe on CPU 1 run
// with `node --cpu-prof`, a keep-alive load (PROXY v2 header on every connection unless
// --plain) for --duration seconds, then drainpipe is stopped (SIGINT: its normal exit path,
// which writes the profile) and the top self-time functions and modules are printed.
//
//   npm run build && node build/proxy/profile.js --mode http|tcp|h2c [--duration 8] [--plain] [--newconn] [--dir DIR]
//
// h2c: HTTP/2 clients (load-h2.ts) to an h2c app, drainpipe in http mode with --upstream-protocol h2c.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { inspectMachine, start, type Placement } from './processes.js'
import { startApp, startDrainpipe, startH2App } from './targets.js'
import type { LoadResult, LoadSpec } from './load.js'
import { renderTop, topOfProfile } from './cpuprofile-top.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'http' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    plain: { type: 'boolean', default: false },
    newconn: { type: 'boolean', default: false },
    dir: { type: 'string' },
    top: { type: 'string', default: '30' },
  },
})

async function main(): Promise<void> {
  const machine = inspectMachine()
  const pinned = machine.taskset && machine.cpus >= 2
  const proxyCpu: Placement = { cpus: pinned ? '1' : null, nofile: null }
  const loadCpu: Placement = { cpus: pinned ? '0' : null, nofile: null }
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'drainpipe-profile-'))
  const h2c = values.mode === 'h2c'
  const mode = values.mode === 'tcp' ? 'tcp' : 'http'
  const app = h2c ? await startH2App(machine, loadCpu) : await startApp(machine, loadCpu)
  const dp = await startDrainpipe(machine, proxyCpu, {
    mode,
    upstreamPort: app.port,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    extraArgs: h2c ? ['--upstream-protocol', 'h2c'] : [],
  })
  const spec: LoadSpec = {
    port: dp.port,
    connections: Number(values.connections),
    durationS: Number(values.duration),
    keepAlive: !values.newconn,
    proxyHeader: !values.plain,
    watchPid: dp.proc.pid,
  }
  const load = start('load', process.execPath, [join(HERE, h2c ? 'load-h2.js' : 'load.js'), JSON.stringify(spec)], loadCpu, machine)
  const r = JSON.parse((await load.line(/^\{/, 600_000)).input) as LoadResult
  process.stdout.write(
    `${values.mode} mode, ${spec.proxyHeader ? 'PROXY v2' : 'plain'}, ${spec.keepAlive ? 'keep-alive' : 'conn/req'}: ${Math.round(r.rps)} req/s, p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${((r.cpuS / r.requests) * 10_000).toFixed(3)} CPU s per 10k requests, ${((r.cpuS / r.seconds) * 100).toFixed(0)}% CPU, ${((r.sysS / r.cpuS) * 100).toFixed(0)}% of it in the kernel\n`,
  )
  dp.proc.child.kill('SIGINT')
  await new Promise((resolve) => dp.proc.child.once('exit', resolve))
  await app.proc.kill()
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .pop()
  if (!file) throw new Error(`no .cpuprofile in ${dir}`)
  process.stdout.write(`${file}\n${renderTop(topOfProfile(JSON.parse(readFileSync(file, 'utf8')), Number(values.top)))}\n`)
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`profile: ${(err as Error).stack ?? err}\n`)
    process.exit(1)
  },
)
