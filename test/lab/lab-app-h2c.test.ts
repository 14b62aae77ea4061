// The lab's app (examples/http-app.mjs) on one port: HTTP/1.1 as before, and HTTP/2 with prior
// knowledge (h2c) for gRPC, the lab's generic unary call echoed with grpc-status 0, its
// `delay-ms` metadata honoured; on SIGTERM a call in flight still completes (Node's GOAWAY), and
// the app exits.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import grpc from '@grpc/grpc-js'
import { channelOptions, EchoClient, GRPC_METHOD } from '../../bench/rollout/load/grpc.js'

const APP = fileURLToPath(new URL('../../examples/http-app.mjs', import.meta.url))

async function startApp(t: Tap.Test) {
  const child = spawn(process.execPath, [APP, '--port', '0', '--name', 'lab-app'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string]
  return { child, port: (JSON.parse(line) as { address: { port: number } }).address.port }
}

function call(client: grpc.Client, message: Buffer, delayMs: number): Promise<{ err: grpc.ServiceError | null; res?: Buffer }> {
  const md = new grpc.Metadata()
  md.set('delay-ms', String(delayMs))
  return new Promise((resolve) => {
    ;(client as unknown as { Call: (m: Buffer, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void }).Call(
      message,
      md,
      (err, res) => resolve({ err, ...(res === undefined ? {} : { res }) }),
    )
  })
}

function get(port: number, path: string): Promise<{ status: number; body: string; version: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode!, body, version: res.httpVersion }))
      })
      .on('error', reject)
  })
}

t.test('one port: HTTP/1.1 and an h2c gRPC call', async (t) => {
  const { port } = await startApp(t)
  const r = await get(port, '/?delay=5')
  t.equal(r.status, 200)
  t.equal(r.version, '1.1')
  t.equal((JSON.parse(r.body) as { name: string }).name, 'lab-app')

  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions({ timeScale: 1 }))
  t.teardown(() => client.close())
  const started = Date.now()
  const { err, res } = await call(client, Buffer.from('ping-1'), 100)
  t.equal(err, null, 'grpc-status 0')
  t.equal(res?.toString(), 'ping-1', 'the message echoed')
  t.ok(Date.now() - started >= 100, 'after the delay-ms metadata')
  t.equal((await get(port, '/')).status, 200, 'HTTP/1.1 still answered with an HTTP/2 connection open')
})

t.test('SIGTERM: a call in flight completes, the app exits', async (t) => {
  const { child, port } = await startApp(t)
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
  t.teardown(() => client.close())
  t.equal((await call(client, Buffer.from('warm'), 0)).err, null)
  const inFlight = call(client, Buffer.from('slow'), 300)
  await new Promise((resolve) => setTimeout(resolve, 50))
  child.kill('SIGTERM')
  const { err, res } = await inFlight
  t.equal(err, null, 'the call in flight at SIGTERM ends OK')
  t.equal(res?.toString(), 'slow')
  const [code] = (await once(child, 'exit')) as [number | null]
  t.equal(code, 0, 'the app exited')
})
