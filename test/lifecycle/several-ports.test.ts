// Several pod ports, one decision (issue 15): one drainpipe serving an http port and a tcp port,
// each with its own upstream and PROXY policy, over real sockets and a real child process. The pod
// is quiet only when every port is: each port's target group stops on its own schedule although
// one LB node (one address: here 127.0.0.1 on both) sends to both.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The NLB's header for a client at 203.0.113.7 (v2, CRC32C, 100 bytes). */
const NLB_PROXY = encodeV2({
  command: 'PROXY',
  source: { address: '203.0.113.7', port: 40000 },
  destination: { address: '10.0.1.5', port: 9090 },
  crc32c: true,
  padTo: 100,
})
/** The NLB's HTTP health check header (v2 LOCAL). */
const NLB_LOCAL = encodeV2({ command: 'LOCAL', family: 'TCP4', crc32c: true, padTo: 100 })
const GET = 'GET / HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n'

/** One request on a fresh connection, after `header` if any: the status, or how the connection ended. */
async function request(port: number, header?: Buffer): Promise<number | string> {
  const bytes = header ? Buffer.concat([header, Buffer.from(GET, 'latin1')]) : GET
  try {
    const { data, closedBy } = await rawExchange(port, bytes)
    return data.length > 0 ? parseResponse(data).status : closedBy
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error'
  }
}

/** The NLB's HTTP health check: its status. */
async function healthCheck(port: number): Promise<number> {
  return parseResponse((await rawExchange(port, Buffer.concat([NLB_LOCAL, Buffer.from(GET, 'latin1')]))).data).status
}

/** Connect and close without a byte (the NLB's TCP health check). */
async function tcpProbe(port: number): Promise<void> {
  const s = net.connect({ port, host: '127.0.0.1' })
  await once(s, 'connect')
  s.end()
  s.resume()
  await once(s, 'close')
}

/** The bound port of each pod port, by name, from the 'listening' log line. */
function boundPorts(dp: Drainpipe): Record<string, number> {
  const line = dp.logs.find((l) => l.msg === 'listening') as { ports: Array<{ name: string; listen: { port: number } }> }
  return Object.fromEntries(line.ports.map((p) => [p.name, p.listen.port]))
}

type Test = Parameters<Parameters<typeof t.test>[1]>[0]

/** An http port (PROXY optional) and a tcp port (PROXY required), each with its own app. */
function twoPorts(t: Test, extra: string[]) {
  return twoPortsWith(t, '', extra)
}

/** twoPorts, with more keys on the api port's --ports. */
async function twoPortsWith(t: Test, apiKeys: string, extra: string[], env: NodeJS.ProcessEnv = {}, via: 'flags' | 'env' = 'flags') {
  const web = await startApp(t, { name: 'web' })
  const api = await startApp(t, { name: 'api' })
  const apiPort = `name=api,listen=127.0.0.1:0,upstream=127.0.0.1:${api.port},mode=tcp,proxy-protocol=required${apiKeys ? `,${apiKeys}` : ''}`
  const dp = await startDrainpipe(
    t,
    ['--upstream', `127.0.0.1:${web.port}`, ...(via === 'flags' ? ['--port-name', 'web', '--ports', apiPort] : []), ...extra],
    { env: via === 'flags' ? env : { ...env, DRAINPIPE_PORT_NAME: 'web', DRAINPIPE_PORTS: apiPort } },
  )
  const ports = boundPorts(dp)
  return { web, api, dp, webPort: ports.web!, apiPort: ports.api! }
}

t.test(
  'the pod drains only once every port is quiet: a sparse port keeps it serving after a busy one from the same LB node stopped',
  async (t) => {
    const { dp, webPort, apiPort } = await twoPorts(t, [
      '--quiet-period-min',
      '0.3',
      '--quiet-period-max',
      '3',
      '--lb-lag-max',
      '6',
      '--drain-timeout',
      '5',
    ])
    // Before termination: the web port busy (a connection every 25 ms: a window well under a
    // second), the api port sparse (every 2 s), both from 127.0.0.1. Judged as one source, the busy
    // port's short window would call the LB stopped between two api connections.
    const from = performance.now()
    const busy = (async () => {
      const out: Array<number | string> = []
      while (performance.now() - from < 2000) {
        out.push(await request(webPort))
        await sleep(25)
      }
      return out
    })()
    const sparseBefore = [await request(apiPort, NLB_PROXY)]
    await sleep(2000)
    sparseBefore.push(await request(apiPort, NLB_PROXY))
    t.same(
      (await busy).filter((s) => s !== 200),
      [],
      'web port: every request before termination served',
    )
    t.same(sparseBefore, [200, 200], 'api port: both connections before termination served')

    const sigtermWall = Date.now()
    dp.proc.kill('SIGTERM')
    // The web port's LB stopped at termination start; the api port's keeps sending, every 2 s.
    const after: Array<{ at: number; status: number | string }> = []
    for (const at of [1000, 3000, 5000]) {
      await sleep(Math.max(0, sigtermWall + at - Date.now()))
      after.push({ at, status: await request(apiPort, NLB_PROXY) })
    }
    const exit = await dp.exited
    t.equal(exit.code, 0, 'exit 0: the decision rested on the lag bound, not --max-wait')
    t.same(
      after.filter((a) => a.status !== 200),
      [],
      'api port: every connection after termination served',
    )
    const draining = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')!
    const drainedAt = Date.parse(draining.time as string) - sigtermWall
    t.ok(drainedAt >= 5000, `draining began after the api port's last connection (+${drainedAt} ms)`)
    const started = dp.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('traffic observer:') && Array.isArray(l.sources))
    const sources = ((started?.sources ?? []) as Array<{ source: string }>).map((s) => s.source).sort()
    t.same(sources, ['api/127.0.0.1', 'web/127.0.0.1'], 'one source per (port, LB node)')
  },
)

t.test('two ports at once: own upstream and PROXY policy each, health checks on both, metrics and /status per port', async (t) => {
  const { web, api, dp, webPort, apiPort } = await twoPorts(t, ['--upstream-probe-interval', '0.1', '--health-check-listen', '127.0.0.1:0'])
  const listening = dp.logs.find((l) => l.msg === 'listening') as { healthCheckListen: { port: number } }
  const podCheck = async () => (await fetch(`http://127.0.0.1:${listening.healthCheckListen.port}/healthz`)).status
  t.equal(await podCheck(), 200, 'the dedicated health-check port passes while both apps are reachable')
  t.equal(await request(webPort), 200, 'web (http, PROXY optional): a direct request is served')
  t.equal(await request(webPort, NLB_PROXY), 200, 'web: and one behind an NLB header')
  t.not(await request(apiPort), 200, 'api (tcp, PROXY required): a trusted peer without a header is refused')
  const viaApi = parseResponse((await rawExchange(apiPort, Buffer.concat([NLB_PROXY, Buffer.from(GET, 'latin1')]))).data)
  t.equal(viaApi.status, 200, 'api: a connection behind an NLB header is served')
  t.equal((JSON.parse(viaApi.body) as { name: string }).name, 'api', "api's connections reach api's app")
  const viaWeb = parseResponse((await rawExchange(webPort, GET)).data)
  t.equal((JSON.parse(viaWeb.body) as { name: string }).name, 'web', "web's requests reach web's app")

  // Health checks on both ports, answered by drainpipe (never forwarded: the counts below stay
  // those of the client requests): an HTTP check behind LOCAL, a TCP check.
  for (const port of [webPort, apiPort]) {
    t.equal(await healthCheck(port), 200, `HTTP health check on ${port === webPort ? 'web' : 'api'}: 200`)
    await tcpProbe(port)
  }

  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_accepted_total', { port: 'web', kind: 'direct' }), 2, 'web: 2 direct connections')
  t.equal(m.value('drainpipe_connections_accepted_total', { port: 'web', kind: 'client' }), 1, 'web: 1 behind a header')
  t.equal(m.value('drainpipe_connections_accepted_total', { port: 'api', kind: 'client' }), 1, 'api: 1 behind a header')
  t.equal(m.value('drainpipe_connections_accepted_total', { port: 'api', kind: 'direct' }), 0, 'api: no direct one served')
  t.equal(m.value('drainpipe_http_requests_total', { port: 'web' }), 3, 'web: 3 http requests (no health check forwarded)')
  t.equal(m.value('drainpipe_http_requests_total', { port: 'api' }), 0, 'api (tcp): none parsed')
  for (const port of ['web', 'api']) {
    t.equal(m.value('drainpipe_health_checks_total', { port, type: 'local' }), 1, `${port}: one HTTP health check`)
    t.ok(m.value('drainpipe_health_checks_total', { port, type: 'empty' }) >= 1, `${port}: the TCP health check`)
    t.equal(m.value('drainpipe_upstream_reachable', { port }), 1, `${port}: app reachable`)
  }

  const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as {
    ports: Array<{ name: string; mode: string; proxyProtocol: string; appReachable: boolean; listen: string; upstream: string }>
  }
  t.same(
    status.ports.map((p) => [p.name, p.mode, p.proxyProtocol, p.appReachable, p.listen, p.upstream]),
    [
      ['web', 'http', 'optional', true, `127.0.0.1:${webPort}`, `127.0.0.1:${web.port}`],
      ['api', 'tcp', 'required', true, `127.0.0.1:${apiPort}`, `127.0.0.1:${api.port}`],
    ],
    '/status: a section per port',
  )
  const sourcesOf = (name: string) =>
    (status.ports.find((p) => p.name === name) as unknown as { decisionSources: Array<{ port: string; source: string }> }).decisionSources
  t.same(
    [sourcesOf('web').map((s) => [s.port, s.source]), sourcesOf('api').map((s) => [s.port, s.source])],
    [[['web', 'web/127.0.0.1']], [['api', 'api/127.0.0.1']]],
    "/status: each port's section shows the decision's sources on that port",
  )

  // One app down: the pod is not ready, and only that port's health checks fail.
  api.proc.kill('SIGKILL')
  await api.exited
  await dp.waitForLog((l) => l.msg === 'app unreachable: readiness fails until it is back' && l.port === 'api')
  const ready = await fetch(`${dp.adminUrl}/readyz`)
  t.equal(ready.status, 503, "readiness fails when one port's app is down")
  t.match(await ready.text(), /port api: app at 127\.0\.0\.1:\d+ unreachable/, 'naming the port')
  t.equal(await healthCheck(webPort), 200, "web's health check still passes: its app is up")
  t.equal(await healthCheck(apiPort), 503, "api's health check fails: its app is down")
  t.equal(await podCheck(), 503, 'the dedicated health-check port answers for the pod: one app down fails it')
})

t.test('the fast lane fails health checks on every port while both still serve clients (ports from the environment)', async (t) => {
  const { dp, webPort, apiPort } = await twoPortsWith(
    t,
    '',
    ['--health-check-on-terminate', 'fail', '--quiet-period', '1.5', '--lb-unhealthy-lag-max', '1.5'],
    {},
    'env',
  )
  t.same([await healthCheck(webPort), await healthCheck(apiPort)], [200, 200], 'before termination: both pass')
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('fast lane: health checks fail'))
  t.same([await healthCheck(webPort), await healthCheck(apiPort)], [503, 503], 'from termination start: both fail')
  t.same([await request(webPort), await request(apiPort, NLB_PROXY)], [200, 200], 'and both ports still serve clients')
  t.equal((await dp.exited).code, 0, 'exit 0')
})

t.test("the drain waits for every port's connections and closes every listener", async (t) => {
  const { dp, webPort, apiPort } = await twoPorts(t, ['--quiet-period', '0.3', '--lb-lag-max', '0.3', '--drain-timeout', '10'])
  // A slow request on each port, in flight when draining starts.
  const slow = (port: number, header?: Buffer) =>
    rawExchange(port, `${header ? header.toString('latin1') : ''}GET /?delay=1500 HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n`, {
      timeoutMs: 10_000,
    }).then((r) => parseResponse(r.data).status)
  const inFlight = [slow(webPort), slow(apiPort, NLB_PROXY)]
  await sleep(100)
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => l.to === 'draining')
  await sleep(200)
  t.same([await request(webPort), await request(apiPort, NLB_PROXY)], ['ECONNREFUSED', 'ECONNREFUSED'], 'both listeners closed')
  t.same(await Promise.all(inFlight), [200, 200], 'the request in flight on each port finished')
  const drained = await dp.waitForLog((l) => l.to === 'drained')
  t.equal(drained.cut, 0, 'nothing cut')
  t.equal((await dp.exited).code, 0, 'exit 0')
})

t.test("elbv2 watches each port's target groups at its own target port; the lag clock runs from the last deregistration", async (t) => {
  const { startElbv2Emulator } = await import('../../bench/rollout/elbv2/index.js')
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const webGroup = emu.createTargetGroup({ name: 'tg-web', port: 8080 })
  const apiGroup = emu.createTargetGroup({ name: 'tg-api', port: 9090 })
  emu.setTargetHealth(webGroup, '10.0.3.1', 8080, 'healthy')
  emu.setTargetHealth(apiGroup, '10.0.3.1', 9090, 'healthy')
  const aws = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }
  const { dp } = await twoPortsWith(
    t,
    `target-group-arn=${apiGroup},target-port=9090`,
    [
      '--deregistration',
      'traffic,elbv2',
      '--quiet-period',
      '0.3',
      '--lb-lag-max',
      '1',
      '--target-group-arn',
      webGroup,
      '--target-id',
      '10.0.3.1',
      '--target-port',
      '8080',
      '--elbv2-endpoint',
      emu.url,
      '--elbv2-poll-interval',
      '0.1',
    ],
    aws,
  )
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  // The web port's target group deregisters first; the api port's 2 s later.
  await sleep(500)
  emu.setTargetHealth(webGroup, '10.0.3.1', 8080, 'draining', 'Target.DeregistrationInProgress')
  await sleep(2000)
  const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as {
    state: string
    observers: { elbv2: { targetGroups: Array<{ arn: string; targetPort: number; state: string }> } }
  }
  t.equal(status.state, 'terminating', "still serving while the api port's group is registered")
  t.same(
    status.observers.elbv2.targetGroups.map((g) => [g.arn, g.targetPort, g.state]),
    [
      [webGroup, 8080, 'draining'],
      [apiGroup, 9090, 'healthy'],
    ],
    'each group polled at its own port',
  )
  emu.setTargetHealth(apiGroup, '10.0.3.1', 9090, 'draining', 'Target.DeregistrationInProgress')
  t.equal((await dp.exited).code, 0, 'exit 0')
  const draining = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')!
  const drainedAt = Date.parse(draining.time as string) - sigtermWall
  t.ok(drainedAt >= 3400, `draining began --lb-lag-max after the api port's group deregistered (+${drainedAt} ms)`)
})
