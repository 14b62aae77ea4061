// The admin surface: /prestop (which shuts the pod's traffic down) needs the token when one
// is set and a loopback client when not; forged forwarding headers or a PROXY header do not
// make a remote client local; the token appears nowhere; each port listens only where
// configured, and admin paths on the pod port are the app's, not drainpipe's.
import t from 'tap'
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'

/** An address of this machine that is not loopback, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

const TOKEN = 'hostile-test-token-7f3a9c'
const req = (method: string, path: string, headers = '') => `${method} ${path} HTTP/1.1\r\nhost: x\r\n${headers}connection: close\r\n\r\n`

t.test('without --admin-token: /prestop only from loopback; forged headers do not help a remote client', async (t) => {
  const own = externalAddress()
  if (!own) {
    // Every address here is loopback: a non-loopback source cannot be produced on this machine.
    t.skip('no non-loopback interface address on this machine')
    return
  }
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--admin', '0.0.0.0:0'])
  // Traffic to this machine's own non-loopback address: the source is that address too.
  const remote = (bytes: string | Buffer) => rawExchange(dp.adminPort, bytes, { host: own, localAddress: own })
  t.equal(parseResponse((await remote(req('GET', '/prestop'))).data).status, 403, `GET /prestop from ${own}: 403`)
  t.equal(parseResponse((await remote(req('POST', '/prestop'))).data).status, 403, 'POST likewise')
  t.equal(
    parseResponse(
      (await remote(req('GET', '/prestop', 'x-forwarded-for: 127.0.0.1\r\nx-real-ip: 127.0.0.1\r\nforwarded: for=127.0.0.1\r\n'))).data,
    ).status,
    403,
    'forwarding headers claiming loopback: still 403',
  )
  const proxied = await remote(Buffer.concat([Buffer.from('PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n'), Buffer.from(req('GET', '/prestop'))]))
  t.not(parseResponse(proxied.data).status, 200, 'a PROXY header claiming loopback is not read on the admin port')
  t.equal(
    parseResponse((await remote(req('GET', '/readyz'))).data).status,
    200,
    'read-only endpoints answer anyone (kubelet probes come from the node)',
  )
  t.equal(parseResponse((await remote(req('GET', '/metrics'))).data).status, 200)
  const status = JSON.parse(parseResponse((await rawExchange(dp.adminPort, req('GET', '/status'))).data).body) as { state: string }
  t.equal(status.state, 'ready', 'nothing started termination')
})

t.test(
  "without --admin-token: a mutation from 127.0.0.6 (Istio's inbound passthrough) gets 403; start-up says the guard is by source only",
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`])
    // Under Istio, another workload's request reaches the pod from 127.0.0.6: loopback, but not local.
    const mesh = parseResponse((await rawExchange(dp.adminPort, req('GET', '/prestop'), { localAddress: '127.0.0.6' })).data)
    t.equal(mesh.status, 403, 'GET /prestop from 127.0.0.6: 403')
    t.match(mesh.body, /--admin-token/, 'the answer says to set the token')
    t.equal(
      parseResponse((await rawExchange(dp.adminPort, req('POST', '/prestop'), { localAddress: '127.0.0.6' })).data).status,
      403,
      'POST likewise',
    )
    t.equal(
      parseResponse((await rawExchange(dp.adminPort, req('GET', '/readyz'), { localAddress: '127.0.0.6' })).data).status,
      200,
      'probes still answer it',
    )
    const status = JSON.parse(parseResponse((await rawExchange(dp.adminPort, req('GET', '/status'))).data).body) as { state: string }
    t.equal(status.state, 'ready', 'nothing started termination')
    const notice = dp.logs.find((l) => /guarded by source address only/.test(String(l.msg)))
    t.ok(notice, 'start-up warns that mutations are guarded by source address only')
    t.equal(notice?.level, 40, 'as a warning')
    t.match(String(notice?.msg), /mesh/, 'and says what that means under a service mesh')
  },
)

t.test('with --admin-token: 401 without or with a wrong token, even from loopback; the token is never shown', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(
    t,
    ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', '0.2', '--max-wait', '2', '--drain-timeout', '1'],
    { env: { DRAINPIPE_ADMIN_TOKEN: TOKEN } },
  )
  const tries: Array<[string, string]> = [
    ['no Authorization', ''],
    ['a wrong token', 'authorization: Bearer wrong\r\n'],
    ['the token without Bearer', `authorization: ${TOKEN}\r\n`],
    ['Basic instead of Bearer', `authorization: Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}\r\n`],
    ['a prefix of the token', `authorization: Bearer ${TOKEN.slice(0, -1)}\r\n`],
    ['the token with a suffix', `authorization: Bearer ${TOKEN}x\r\n`],
  ]
  for (const [what, header] of tries) {
    t.equal(parseResponse((await rawExchange(dp.adminPort, req('GET', '/prestop', header))).data).status, 401, `${what}: 401`)
  }
  const metrics = parseResponse((await rawExchange(dp.adminPort, req('GET', '/metrics'))).data).body
  const status = parseResponse((await rawExchange(dp.adminPort, req('GET', '/status'))).data).body
  t.notOk(metrics.includes(TOKEN), '/metrics does not contain the token')
  t.notOk(status.includes(TOKEN), '/status does not contain the token')
  t.match(status, /"adminToken": "\(set\)"/, '/status says only that one is set')
  t.equal(JSON.parse(status).state, 'ready', 'the refused calls started nothing')
  t.notOk(
    dp.logs.some((l) => /guarded by source address only/.test(String(l.msg))),
    'no source-only warning with a token',
  )

  const ok = await rawExchange(dp.adminPort, req('GET', '/prestop', `authorization: Bearer ${TOKEN}\r\n`), { timeoutMs: 15_000 })
  t.equal(parseResponse(ok.data).status, 200, 'the right token: 200 once drained')
  dp.proc.kill('SIGTERM')
  await dp.exited
  t.notOk(
    dp.logs.some((l) => JSON.stringify(l).includes(TOKEN)),
    'no log line contains the token',
  )
  t.notOk(dp.stderr().includes(TOKEN))
})

t.test('ports listen only where configured; admin paths on the pod port belong to the app', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  const own = externalAddress()
  if (own) {
    for (const [what, port] of [
      ['admin', dp.adminPort],
      ['pod', dp.port],
    ] as const) {
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect({ port, host: own })
        s.once('connect', () => {
          s.destroy()
          resolve('connected')
        })
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      })
      t.equal(refused, 'ECONNREFUSED', `${what} port bound to 127.0.0.1 is not reachable on ${own}`)
    }
  }
  const onPod = parseResponse((await rawExchange(dp.port, req('GET', '/prestop'))).data)
  t.equal(onPod.status, 200, '/prestop on the pod port is forwarded like any path')
  t.ok(
    app.requests.some((r) => r.url === '/prestop'),
    'to the app',
  )
  const status = JSON.parse(parseResponse((await rawExchange(dp.adminPort, req('GET', '/status'))).data).body) as { state: string }
  t.equal(status.state, 'ready', 'drainpipe did not start terminating')
})
