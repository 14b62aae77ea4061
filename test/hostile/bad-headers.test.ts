// Oversized or contradictory PROXY headers close only their own connection: a request in
// flight on the same drainpipe completes, each refusal is counted by reason, and nothing
// stays open.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { encodeV2 } from '../../src/proxy-protocol/index.js'
import { startApp } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'

const GET = 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'
const good = () =>
  encodeV2({
    command: 'PROXY',
    source: { address: '203.0.113.7', port: 40000 },
    destination: { address: '10.0.0.5', port: 80 },
    crc32c: true,
  })
const mutate = (b: Buffer, f: (b: Buffer) => void) => {
  const c = Buffer.from(b)
  f(c)
  return c
}

const CASES: Array<{ name: string; reason: string; bytes: Buffer; end?: boolean }> = [
  {
    name: 'v2 length beyond --proxy-header-max-bytes',
    reason: 'too_long',
    bytes: mutate(good().subarray(0, 16), (b) => b.writeUInt16BE(1000, 14)),
  },
  {
    name: 'v2 length at the 64 KiB maximum',
    reason: 'too_long',
    bytes: mutate(good().subarray(0, 16), (b) => b.writeUInt16BE(0xffff, 14)),
  },
  {
    name: 'family TCP6 with a TCP4-sized length',
    reason: 'bad_length',
    bytes: mutate(
      encodeV2({ command: 'PROXY', source: { address: '203.0.113.7', port: 1 }, destination: { address: '10.0.0.5', port: 80 } }),
      (b) => {
        b[13] = 0x21
      },
    ),
  },
  {
    name: 'CRC32C that does not match',
    reason: 'bad_crc',
    bytes: mutate(good(), (b) => {
      b[16] ^= 0xff
    }),
  },
  { name: 'v1 line over 107 bytes', reason: 'too_long', bytes: Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`) },
  { name: 'v1 with an extra field', reason: 'bad_syntax', bytes: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n') },
  { name: 'v1 with an IPv6 address under TCP4', reason: 'bad_address', bytes: Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 2\r\n') },
  {
    name: 'v2 version nibble 3',
    reason: 'bad_version',
    bytes: mutate(good(), (b) => {
      b[12] = 0x31
    }),
  },
  {
    name: 'v2 command nibble 0xF',
    reason: 'bad_command',
    bytes: mutate(good(), (b) => {
      b[12] = 0x2f
    }),
  },
  {
    name: 'v2 over UDP',
    reason: 'bad_transport',
    bytes: mutate(good(), (b) => {
      b[13] = 0x12
    }),
  },
  {
    name: 'v2 TLV running past the header',
    reason: 'bad_tlv',
    bytes: mutate(
      encodeV2({
        command: 'PROXY',
        source: { address: '203.0.113.7', port: 1 },
        destination: { address: '10.0.0.5', port: 80 },
        tlvs: [{ type: 0xe0, value: Buffer.from('abcd') }],
      }),
      (b) => b.writeUInt16BE(200, 16 + 12 + 1),
    ),
  },
  { name: 'v2 header cut short by FIN', reason: 'truncated', bytes: good().subarray(0, 20), end: true },
]

t.test('each bad header closes only its connection, counted by reason, while a slow request completes', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--proxy-header-max-bytes', '512'])

  // A legitimate request that stays in flight for the whole test.
  const slow = rawExchange(
    dp.port,
    Buffer.concat([good(), Buffer.from('GET /?delay=1500 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')]),
    { timeoutMs: 15_000 },
  )

  for (const c of CASES) {
    const socket = net.connect({ port: dp.port, host: '127.0.0.1' })
    await once(socket, 'connect')
    const got: Buffer[] = []
    socket.on('data', (d: Buffer) => got.push(d))
    socket.on('error', () => {})
    if (c.end) socket.end(c.bytes)
    else socket.write(Buffer.concat([c.bytes, Buffer.from(GET)]))
    const closed = await Promise.race([
      once(socket, 'close').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ])
    socket.destroy()
    t.ok(closed, `${c.name}: closed by drainpipe`)
    t.equal(Buffer.concat(got).length, 0, `${c.name}: no answer`)
  }

  const during = parseResponse((await rawExchange(dp.port, Buffer.concat([good(), Buffer.from(GET)]))).data)
  t.equal(during.status, 200, 'a new good connection is served meanwhile')
  const slowDone = await slow
  t.equal(parseResponse(slowDone.data).status, 200, 'the request in flight completed')

  const m = await scrapeMetrics(dp.adminUrl)
  const expected: Record<string, number> = {}
  for (const c of CASES) expected[c.reason] = (expected[c.reason] ?? 0) + 1
  for (const [reason, n] of Object.entries(expected)) {
    t.equal(m.value('drainpipe_proxy_header_errors_total', { reason }), n, `counted ${n} × ${reason}`)
  }
  t.equal(m.value('drainpipe_connections_active'), 0, 'nothing left open')
  t.equal(m.value('drainpipe_upstream_errors_total'), 0, 'the app saw no failure')
  t.equal((await fetch(`${dp.adminUrl}/livez`)).status, 200, 'drainpipe is still up')
})

t.test('--crc-mismatch accept keeps the connection and counts the mismatch', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--crc-mismatch', 'accept'])
  const bad = mutate(good(), (b) => {
    b[16] ^= 0xff
  }) // source address changed: 0x34.0.113.7 = 52.0.113.7
  const res = parseResponse((await rawExchange(dp.port, Buffer.concat([bad, Buffer.from(GET)]))).data)
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).xForwardedFor, '52.0.113.7', 'the header was used as sent')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_proxy_crc_mismatch_accepted_total'), 1)
  t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'bad_crc' }), 0)
})
