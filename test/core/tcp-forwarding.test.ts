// tcp mode end to end: a byte pipe to a server-speaks-first app (eagerly without PROXY
// protocol, after the header with it), half-close, backpressure to a slow reader with
// bounded drainpipe memory, and app connection failures closing the client. drainpipe runs
// in-process except where its own RSS is measured (a child process then).
import t from 'tap'
import net from 'node:net'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, startDrainpipe, freePort, waitForPort } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { RawConnection } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startTcpServer } from '../helpers/servers.js'
import { within } from '../helpers/wait.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const MB = 1024 * 1024
const header = (address = '198.51.100.31') =>
  encodeV2({ command: 'PROXY', source: { address, port: 40031 }, destination: { address: '10.0.0.5', port: 25 }, crc32c: true, padTo: 100 })

// examples/tcp-greeter.mjs, shared by the first tests.
const greeterPort = await freePort()
const greeter = spawn(process.execPath, [join(ROOT, 'examples/tcp-greeter.mjs'), '--port', String(greeterPort), '--host', '127.0.0.1'], {
  stdio: 'ignore',
})
t.teardown(() => {
  greeter.kill('SIGKILL')
})
await waitForPort(greeterPort)

const lineReader = (conn: RawConnection) => async () =>
  (
    await conn.take((b) => {
      const i = b.indexOf('\n')
      return i === -1 ? 0 : i + 1
    })
  ).toString('latin1')

t.test('server speaks first, --proxy-protocol off: drainpipe connects to the app at once', async (t) => {
  const dp = await startInProcess(t, ['--mode', 'tcp', '--proxy-protocol', 'off', '--upstream', `127.0.0.1:${greeterPort}`])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  const line = lineReader(conn)
  t.equal(await line(), '220 greeter ready 127.0.0.1\r\n', 'the greeting arrives before the client sent anything')
  conn.write('hello\r\n')
  t.equal(await line(), '250 HELLO\r\n')
  conn.write('QUIT\r\n')
  t.equal(await line(), '221 bye\r\n')
  t.ok(await conn.closed(), "the app's close reaches the client")
})

t.test('server speaks first behind a PROXY header (optional mode): the greeting follows the header', async (t) => {
  const dp = await startInProcess(t, ['--mode', 'tcp', '--proxy-protocol', 'optional', '--upstream', `127.0.0.1:${greeterPort}`])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  const line = lineReader(conn)
  conn.write(header())
  t.equal(await line(), '220 greeter ready 127.0.0.1\r\n', 'the header alone opens the app connection')
  conn.write('pipe\r\n')
  t.equal(await line(), '250 PIPE\r\n')
  // Headerless (in-cluster) clients: the first byte they send opens the app connection.
  const direct = await RawConnection.open(dp.port)
  t.teardown(() => direct.close())
  direct.write('first\r\n')
  const dline = lineReader(direct)
  t.equal(await dline(), '220 greeter ready 127.0.0.1\r\n')
  t.equal(await dline(), '250 FIRST\r\n', 'the first bytes are payload, byte for byte')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'client' }), 1)
  t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'direct' }), 1)
})

t.test("half-close: the client ends its side and still reads the app's answer", async (t) => {
  // The app answers only after the client's FIN: the byte count and hash of what it got.
  const app = await startTcpServer(t, (socket) => {
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (d: Buffer) => {
      bytes += d.length
      hash.update(d)
    })
    socket.on('end', () => {
      if (bytes > 0) socket.end(`${bytes} ${hash.digest('hex')}\n`)
    })
  })
  const dp = await startInProcess(t, ['--mode', 'tcp', '--upstream', `127.0.0.1:${app.port}`, '--log-level', 'debug'])
  const client = net.connect({ port: dp.port, host: '127.0.0.1', allowHalfOpen: true })
  await once(client, 'connect')
  const payload = Buffer.alloc(3 * MB)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) & 0xff
  client.write(header())
  client.end(payload)
  let answer = ''
  client.setEncoding('utf8').on('data', (d: string) => {
    answer += d
  })
  const ended = (await within(once(client, 'end'), 15_000)) !== 'timeout'
  client.destroy()
  t.ok(ended, "the app's FIN reached the client")
  t.equal(
    answer,
    `${payload.length} ${createHash('sha256').update(payload).digest('hex')}\n`,
    "the answer sent after the client's FIN arrived, and the app got every byte",
  )
  const line = await dp.waitForLog((l) => l.msg === 'tcp connection closed')
  t.equal(line.level, 20, 'debug: one line per connection')
  t.equal(line.client, '198.51.100.31', 'with the client from the PROXY header')
  t.equal(line.bytesIn, 100 + payload.length, 'bytes in (header and payload)')
  t.equal(line.bytesOut, answer.length, 'bytes out')
  t.type(line.ms, 'number', 'and the duration')
})

t.test('half-close the other way: the app ends its side first and still reads the client', async (t) => {
  // Per app connection: drainpipe's background probe connects to the app too (and closes at
  // once), so "some connection ended" says nothing about the client's.
  const conns: Array<{ got: string; ended: boolean }> = []
  const app = await startTcpServer(t, (socket) => {
    const c = { got: '', ended: false }
    conns.push(c)
    socket.end('bye, but keep talking\n') // FIN from the app, reading on
    socket.setEncoding('latin1').on('data', (d: string) => {
      c.got += d
    })
    socket.on('end', () => {
      c.ended = true
      socket.destroy()
    })
  })
  const dp = await startInProcess(t, ['--mode', 'tcp', '--proxy-protocol', 'off', '--upstream', `127.0.0.1:${app.port}`])
  const client = net.connect({ port: dp.port, host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => client.destroy())
  let answer = ''
  client.setEncoding('latin1').on('data', (d: string) => {
    answer += d
  })
  t.not(await within(once(client, 'end'), 10_000), 'timeout', "the app's FIN reaches the client")
  t.equal(answer, 'bye, but keep talking\n')
  client.end('still here\n')
  const deadline = Date.now() + 10_000
  const carried = () => conns.find((c) => c.got !== '')
  while (!carried()?.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.ok(carried()?.ended, "the client's FIN reaches the app")
  t.equal(carried()?.got, 'still here\n', "bytes sent after the app's FIN arrive")
})

t.test('backpressure: a slow reader gets a large transfer whole, drainpipe memory stays bounded', async (t) => {
  const TOTAL = 64 * MB
  const chunk = Buffer.alloc(64 * 1024, 0x5a)
  // The app sends TOTAL bytes as fast as the connection takes them, once asked. `sender` is the
  // socket currently pumping (drainpipe's background probe connects too, and sends nothing).
  let sender: net.Socket | undefined
  const app = await startTcpServer(t, (socket) => {
    socket.once('data', () => {
      sender = socket
      let left = TOTAL
      const pump = () => {
        while (left > 0) {
          left -= chunk.length
          if (!socket.write(chunk)) return socket.once('drain', pump)
        }
        socket.end()
      }
      pump()
    })
  })
  const dp = await startDrainpipe(t, ['--mode', 'tcp', '--upstream', `127.0.0.1:${app.port}`])
  const rss = async () => (await scrapeMetrics(dp.adminUrl)).value('drainpipe_process_resident_memory_bytes')

  // Warm-up: one fast transfer, so the baseline is past V8's and the allocator's first growth.
  const warm = net.connect({ port: dp.port, host: '127.0.0.1' })
  warm.write(header())
  warm.write('go')
  warm.resume()
  await once(warm, 'end')
  warm.destroy()

  const base = await rss()
  sender = undefined
  const client = net.connect({ port: dp.port, host: '127.0.0.1' })
  t.teardown(() => client.destroy())
  client.write(header())
  client.write('go')
  let bytes = 0
  let paused = false
  client.on('data', (d: Buffer) => {
    bytes += d.length
    if (!paused && bytes >= MB) {
      paused = true
      client.pause()
    }
  })
  // How far the app got ahead of what the client read: bytes in the sockets' kernel buffers
  // (loopback autotunes them to several MB each) plus whatever drainpipe holds.
  const ahead = () => (sender?.bytesWritten ?? 0) - bytes
  const deadline = Date.now() + 10_000
  while (!paused && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  let peak = 0
  for (let i = 0; i < 15; i++) {
    peak = Math.max(peak, await rss())
    await new Promise((r) => setTimeout(r, 100))
  }
  const aheadPaused = ahead()
  t.ok(
    sender !== undefined && sender.bytesWritten < TOTAL,
    `the app is held back: ${((sender?.bytesWritten ?? 0) / MB).toFixed(1)} of ${TOTAL / MB} MB sent while the reader paused at ${(bytes / MB).toFixed(1)} MB`,
  )
  // While the reader pauses almost nothing flows, so drainpipe's RSS shows what it holds.
  t.ok(peak - base < 24 * MB, `drainpipe RSS grew ${((peak - base) / MB).toFixed(1)} MB while the reader paused (limit 24 MB)`)
  // Now read slowly: 1 MB every 20 ms. While 64 MB flow through, RSS would also count the
  // forwarded chunks V8 has not collected yet (it frees such external memory lazily, later
  // under load): what drainpipe holds shows instead as the app getting further ahead.
  let aheadMax = aheadPaused
  const slow = setInterval(() => {
    aheadMax = Math.max(aheadMax, ahead())
    client.resume()
    setTimeout(() => client.pause(), 5)
  }, 20)
  t.teardown(() => clearInterval(slow))
  const ended = (await within(once(client, 'end'), 30_000)) !== 'timeout'
  clearInterval(slow)
  t.ok(ended, 'the transfer completes')
  t.equal(bytes, TOTAL, 'every byte arrives')
  t.ok(
    aheadMax < 24 * MB,
    `the app stayed within 24 MB of the slow reader (at most ${(aheadMax / MB).toFixed(1)} MB ahead; ${(aheadPaused / MB).toFixed(1)} MB while paused)`,
  )
})

t.test('app connection failure closes the client connection, logged and counted', async (t) => {
  const dead = await freePort()
  for (const mode of ['optional', 'off'] as const) {
    const dp = await startInProcess(t, ['--mode', 'tcp', '--proxy-protocol', mode, '--upstream', `127.0.0.1:${dead}`], { waitReady: false })
    const conn = await RawConnection.open(dp.port)
    t.teardown(() => conn.close())
    if (mode === 'optional') conn.write(header('198.51.100.39'))
    conn.write('anyone there?\r\n')
    t.ok(await conn.closed(), `${mode}: the client connection is closed`)
    const line = await dp.waitForLog((l) => l.msg === 'app connection failed; closing client connection')
    t.equal(line.level, 40)
    t.equal(line.client, mode === 'optional' ? '198.51.100.39' : '127.0.0.1', `${mode}: the log names the client`)
    t.match(line.err, { code: 'ECONNREFUSED' })
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_upstream_errors_total', { reason: 'connect' }), 1, `${mode}: counted`)
    t.equal(m.value('drainpipe_connections_active'), 0, `${mode}: nothing left open`)
  }
})
