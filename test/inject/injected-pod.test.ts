// What inject writes, run: the injected drainpipe container's environment starts the real
// drainpipe (a child process), traffic on the taken-over port reaches the app, and the app's
// preStop hook, sent as the kubelet sends it (path, port, headers from the spec), drains drainpipe
// and returns; the same call without the token is refused.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer, request, type Server } from 'node:http'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { run } from './run-inject.js'

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js')

async function freePort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  await once(s, 'close')
  return port
}

function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
      .on('error', reject)
      .end()
  })
}

t.test("an injected pod: drainpipe starts from its env, serves the port, drains on the app's preStop", async (t) => {
  const app: Server = createServer((_req, res) => res.end('from the app'))
  app.listen(0, '127.0.0.1')
  await once(app, 'listening')
  t.teardown(() => app.close())
  const appPort = (app.address() as { port: number }).port
  const listenPort = await freePort()
  const adminPort = await freePort()

  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      annotations: {
        'drainpipe.io/listen-port': String(listenPort),
        'drainpipe.io/admin': `127.0.0.1:${adminPort}`,
        'drainpipe.io/max-wait': '3',
        'drainpipe.io/quiet-period': '0.3',
        'drainpipe.io/drain-timeout': '2',
      },
    },
    spec: { containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: appPort }] }] },
  }
  const out = run(stringify(pod), 'pod.yaml')
  t.same(out.errors, [])
  const injected = out.docs[0] as any
  const drainpipe = injected.spec.initContainers[0]
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRAINPIPE_') && v !== undefined) env[k] = v
  for (const e of drainpipe.env) env[e.name] = e.value ?? '127.0.0.1' // POD_IP from the downward API
  const proc = spawn(process.execPath, [CLI], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL')
  })
  let logs = ''
  proc.stdout.on('data', (c) => (logs += c))
  proc.stderr.on('data', (c) => (logs += c))

  const readinessPort = drainpipe.ports.find((p: any) => p.name === drainpipe.readinessProbe.httpGet.port).containerPort
  for (let i = 0; ; i++) {
    const r = await get(readinessPort, drainpipe.readinessProbe.httpGet.path).catch(() => ({ status: 0, body: '' }))
    if (r.status === 200) break
    if (i > 100) throw new Error(`drainpipe never became ready: ${logs}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  t.pass("drainpipe's readiness probe, as written in the spec, passes")

  const takenOver = injected.spec.containers[0].ports.find((p: any) => p.name === 'http').containerPort
  t.equal(takenOver, listenPort, "the port named http (declared in containers, where Services resolve names) is drainpipe's")
  t.same(await get(takenOver, '/'), { status: 200, body: 'from the app' }, 'traffic on it reaches the app')

  const hook = injected.spec.containers[0].lifecycle.preStop.httpGet
  t.equal((await get(hook.port, hook.path)).status, 401, 'the preStop call without the token is refused')
  const headers = Object.fromEntries(hook.httpHeaders.map((h: any) => [h.name, h.value]))
  const started = Date.now()
  const prestop = await get(hook.port, hook.path, headers)
  t.equal(prestop.status, 200, "the app's preStop, with its token, drains drainpipe and returns")
  t.ok(Date.now() - started < injected.spec.terminationGracePeriodSeconds * 1000, 'within the grace period')
  proc.kill('SIGTERM')
  t.equal(await exited, 0, 'drainpipe exits 0 on the SIGTERM that follows')
})
