// The admin port as the kubelet, Prometheus and an operator see it: probes that follow the
// app's reachability, methods and paths answered precisely, the admin token never echoed.
import t from 'tap'
import { startApp, freePort } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { scrapeMetrics } from '../helpers/metrics.js'

const TOKEN = 'tok-4f1c9b7e-never-echoed'

t.test('readiness follows the app: 503 with a reason until it is reachable, then 200', async (t) => {
  const appPort = await freePort()
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${appPort}`, '--upstream-probe-interval', '0.1', '--admin-token', TOKEN], {
    waitReady: false,
  })
  const before = await fetch(`${dp.adminUrl}/readyz`)
  t.equal(before.status, 503)
  t.equal(await before.text(), 'not ready: starting (app not reachable yet)\n')
  t.equal(before.headers.get('cache-control'), 'no-store')
  t.equal((await fetch(`${dp.adminUrl}/livez`)).status, 200, 'alive while the app is not')
  t.equal((await scrapeMetrics(dp.adminUrl)).value('drainpipe_upstream_reachable'), 0)

  const app = await startApp(t, { port: appPort })
  await dp.ready()
  const after = await fetch(`${dp.adminUrl}/readyz`)
  t.equal(after.status, 200)
  t.equal(await after.text(), 'ready\n')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_upstream_reachable'), 1)
  t.equal(m.value('drainpipe_state', { state: 'ready' }), 1)

  app.proc.kill('SIGKILL')
  await app.exited
  let status = 0
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && status !== 503) {
    status = (await fetch(`${dp.adminUrl}/readyz`)).status
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(status, 503, 'the app died: readiness fails')
  t.match(await (await fetch(`${dp.adminUrl}/readyz`)).text(), /unreachable/)
})

t.test('paths and methods; the admin token is never echoed', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--admin-token', TOKEN])
  const notFound = await fetch(`${dp.adminUrl}/nope`)
  t.equal(notFound.status, 404)
  t.match(await notFound.text(), /\/readyz/, 'the 404 names the paths')
  const post = await fetch(`${dp.adminUrl}/readyz`, { method: 'POST' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET')
  const del = await fetch(`${dp.adminUrl}/prestop`, { method: 'DELETE' })
  t.equal(del.status, 405)
  t.equal(del.headers.get('allow'), 'GET, POST')
  const noToken = await fetch(`${dp.adminUrl}/prestop`)
  t.equal(noToken.status, 401, '/prestop without the token')
  const wrong = await fetch(`${dp.adminUrl}/prestop`, { headers: { authorization: `Bearer ${TOKEN}x` } })
  t.equal(wrong.status, 401, '/prestop with a wrong token')
  t.equal((await fetch(`${dp.adminUrl}/readyz`)).status, 200, 'and neither started termination')

  const metrics = await fetch(`${dp.adminUrl}/metrics`)
  t.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.match(await metrics.text(), /^drainpipe_connections_accepted_total\{port="0",kind="client"\} 0$/m)

  const status = await (await fetch(`${dp.adminUrl}/status`)).text()
  const parsed = JSON.parse(status) as { state: string; config: { adminToken: string; mode: string } }
  t.equal(parsed.state, 'ready')
  t.equal(parsed.config.adminToken, '(set)')
  t.notOk(status.includes(TOKEN), '/status does not show the token')
  t.notOk(
    dp.logs.some((l) => JSON.stringify(l).includes(TOKEN)),
    'no log line shows the token',
  )
})
