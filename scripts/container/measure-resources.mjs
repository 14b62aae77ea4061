#!/usr/bin/env node
// Measures what drainpipe itself uses, to size the sidecar's requests and limits: RSS and CPU of
// the drainpipe process (from /proc) while autocannon sends load through it to examples/http-app.mjs.
// All on loopback; every scenario is bounded in time. Run after `npm run build`:
//
//   node scripts/container/measure-resources.mjs [--seconds 15]
//
// CPU is reported in millicores (1000m = one core busy) averaged over each scenario; RSS as the
// average and the peak (VmHWM) of the drainpipe process. Load generator, app and drainpipe share the
// machine, so the max-throughput figure is a floor for what drainpipe can do, not a ceiling.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const root = fileURLToPath(new URL('../../', import.meta.url))
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' } } })
const seconds = Number(values.seconds)
const ticks = 100 // USER_HZ on Linux

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const [appPort, listenPort, adminPort] = [await freePort(), await freePort(), await freePort()]
const children = []
const start = (args) => {
  const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(p)
  return p
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

start(['examples/http-app.mjs', '--host', '127.0.0.1', '--port', String(appPort)])
const dp = start([
  'dist/cli.js',
  '--listen',
  `127.0.0.1:${listenPort}`,
  '--upstream',
  `127.0.0.1:${appPort}`,
  '--admin',
  `127.0.0.1:${adminPort}`,
  '--log-level',
  'warn',
])

for (let i = 0; i < 100; i++) {
  const ok = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
    (r) => r.ok,
    () => false,
  )
  if (ok) break
  await sleep(100)
}

function sample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuTicks = Number(fields[11]) + Number(fields[12]) // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { t: performance.now(), cpuTicks, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') }
}

async function scenario(name, opts) {
  const first = sample(dp.pid)
  const rss = []
  const timer = setInterval(() => rss.push(sample(dp.pid).rssKb), 250)
  let result
  if (opts) {
    result = await autocannon({ url: `http://127.0.0.1:${listenPort}/`, duration: seconds, ...opts })
  } else {
    await sleep(seconds * 1000)
  }
  clearInterval(timer)
  const last = sample(dp.pid)
  const cpuM = ((last.cpuTicks - first.cpuTicks) / ticks / ((last.t - first.t) / 1000)) * 1000
  const avg = rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)
  return {
    scenario: name,
    'req/s': result ? Math.round(result.requests.average) : 0,
    errors: result ? result.errors + result.non2xx : 0,
    'cpu (m)': Math.round(cpuM),
    'rss avg (MiB)': +(avg / 1024).toFixed(1),
    'rss peak (MiB)': +(last.hwmKb / 1024).toFixed(1),
  }
}

const rows = []
rows.push(await scenario('idle', null))
rows.push(await scenario('200 req/s, 10 keep-alive conns', { connections: 10, overallRate: 200 }))
rows.push(await scenario('1000 req/s, 50 keep-alive conns', { connections: 50, overallRate: 1000 }))
rows.push(await scenario('max rate, 50 keep-alive conns', { connections: 50 }))
rows.push(await scenario('500 new conns/s (no keep-alive)', { connections: 20, overallRate: 500, headers: { connection: 'close' } }))
rows.push(await scenario('2000 open keep-alive conns, 500 req/s', { connections: 2000, overallRate: 500 }))
console.table(rows)
console.log(JSON.stringify(rows))
process.exit(0)
