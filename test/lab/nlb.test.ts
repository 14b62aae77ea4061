// The NLB data-plane simulator: PROXY v2 header bytes, placement, health checks from the
// LB nodes, the target state machine, the post-deregistration lag, fail-open and resets.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { startElbv2Emulator } from '../../bench/rollout/elbv2/index.js'
import { startNlb, type NlbOptions } from '../../bench/rollout/nlb/index.js'
import { crc32c } from '../../src/proxy-protocol/crc32c.js'
import { parseDistribution } from '../../bench/rollout/model/distribution.js'
import { seededRandom } from '../../bench/rollout/model/random.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

interface Seen {
  remote: string
  bytes: Buffer
  closed: boolean
  socket: net.Socket
}

/** A raw TCP target on a loopback address: records every connection and its bytes. */
async function target(t: Teardown, host: string, reply?: (seen: Seen) => void) {
  const seen: Seen[] = []
  const server = net.createServer((socket) => {
    const s: Seen = { remote: socket.remoteAddress ?? '', bytes: Buffer.alloc(0), closed: false, socket }
    seen.push(s)
    socket.on('data', (chunk) => {
      s.bytes = Buffer.concat([s.bytes, chunk])
      reply?.(s)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      s.closed = true
    })
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections?.()
    for (const s of seen) s.socket.destroy()
    server.close()
  })
  return { server, seen, port: (server.address() as net.AddressInfo).port }
}

async function lab(t: Teardown, nlbOpts: Partial<NlbOptions> = {}, attributes: Record<string, string> = {}, timeScale = 0.01) {
  const emu = await startElbv2Emulator({ timeScale })
  const arn = emu.createTargetGroup({ name: 'tg', port: 8080, attributes })
  const group = emu.targetGroup(arn)
  const nlb = await startNlb({ targetGroup: group, healthChecks: false, ...nlbOpts })
  t.teardown(async () => {
    await nlb.close()
    await emu.close()
  })
  return { emu, arn, group, nlb, port: nlb.address().port }
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

async function until(what: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what() && Date.now() < end) await sleep(10)
  return what()
}

t.test('PROXY v2 header exactly as an NLB sends it, with the first payload', async (t) => {
  const tgt = await target(t, '127.0.0.21')
  const { group, port } = await lab(t, { vpceId: 'vpce-0123456789abcdef0' }, { 'proxy_protocol_v2.enabled': 'true' })
  group.setHealth('127.0.0.21', tgt.port, 'healthy')
  const client = await connect(port)
  t.teardown(() => client.destroy())
  t.ok(await until(() => tgt.seen.length === 1), 'the target connection opens at once')
  await sleep(100)
  t.equal(tgt.seen[0]!.bytes.length, 0, 'lazy placement: no header before the client sends')
  t.match(tgt.seen[0]!.remote, /^127\.0\.100\.[123]$/, 'from an LB node address')
  client.write('hello')
  t.ok(await until(() => tgt.seen[0]!.bytes.length >= 105))
  const b = tgt.seen[0]!.bytes
  t.equal(b.length, 105)
  t.same([...b.subarray(0, 12)], [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a], 'signature')
  t.equal(b[12], 0x21, 'v2 PROXY')
  t.equal(b[13], 0x11, 'TCP over IPv4')
  t.equal(b.readUInt16BE(14), 84, 'len 84: 100 bytes in all')
  t.same([...b.subarray(16, 24)], [127, 0, 0, 1, 127, 0, 0, 1], 'client and listener addresses')
  t.equal(b.readUInt16BE(24), client.localPort, 'the real client port')
  t.equal(b.readUInt16BE(26), port, 'the listener port')
  t.same([b[28], b.readUInt16BE(29)], [0x03, 4], 'CRC32C TLV first')
  const zeroed = Buffer.from(b.subarray(0, 100))
  zeroed.writeUInt32BE(0, 31)
  t.equal(b.readUInt32BE(31), crc32c(zeroed), 'CRC32C over the header with the field zeroed')
  const vpce = 'vpce-0123456789abcdef0'
  t.same([b[35], b.readUInt16BE(36), b[38]], [0xea, 1 + vpce.length, 0x01], 'PP2_TYPE_AWS, subtype VPCE id')
  t.equal(b.subarray(39, 39 + vpce.length).toString('latin1'), vpce)
  const noop = 39 + vpce.length
  t.same([b[noop], b.readUInt16BE(noop + 1)], [0x04, 100 - noop - 3], 'NOOP padding to 100 bytes')
  t.ok(b.subarray(noop + 3, 100).every((x) => x === 0))
  t.equal(b.subarray(100).toString(), 'hello', 'payload right after the header')
})

t.test('on_first_ack sends the header right after the handshake', async (t) => {
  const tgt = await target(t, '127.0.0.22')
  const { group, port } = await lab(
    t,
    {},
    { 'proxy_protocol_v2.enabled': 'true', 'proxy_protocol_v2.client_to_server.header_placement': 'on_first_ack' },
  )
  group.setHealth('127.0.0.22', tgt.port, 'healthy')
  const client = await connect(port)
  t.teardown(() => client.destroy())
  t.ok(await until(() => tgt.seen[0]?.bytes.length === 100), 'header without any client payload')
  t.equal(tgt.seen[0]!.bytes[12], 0x21)
  t.equal(tgt.seen[0]!.bytes.subarray(28, 31).toString('hex'), '030004', 'CRC32C, then NOOP (no VPC endpoint)')
  t.equal(tgt.seen[0]!.bytes[35], 0x04)
})

t.test('TCP health checks: from each LB node, no bytes; initial → healthy → unhealthy', async (t) => {
  const tgt = await target(t, '127.0.0.23')
  // timeScale 0.01: interval 10 s → 100 ms; thresholds 2 (the LBC defaults).
  const { group, nlb } = await lab(t, { healthChecks: true })
  group.register('127.0.0.23', tgt.port)
  t.equal(group.get('127.0.0.23', tgt.port)!.health.state, 'initial')
  t.ok(await until(() => group.get('127.0.0.23', tgt.port)!.health.state === 'healthy'), 'healthy after the threshold')
  const sources = new Set(tgt.seen.map((s) => s.remote))
  t.same([...sources].sort(), ['127.0.100.1', '127.0.100.2', '127.0.100.3'], 'one checker per node, each from its own address')
  await sleep(50)
  t.ok(
    tgt.seen.every((s) => s.bytes.length === 0),
    'TCP checks send nothing',
  )
  t.equal(nlb.healthyTargets(), 1)
  tgt.server.close()
  t.ok(await until(() => group.get('127.0.0.23', tgt.port)!.health.state === 'unhealthy'), 'unhealthy once checks fail')
  t.equal(group.get('127.0.0.23', tgt.port)!.health.reason, 'Target.FailedHealthChecks')
})

t.test('HTTP health checks send a LOCAL header then GET', async (t) => {
  const tgt = await target(t, '127.0.0.24', (s) => {
    if (s.bytes.includes('\r\n\r\n')) s.socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
  })
  const emu = await startElbv2Emulator({ timeScale: 0.01 })
  const arn = emu.createTargetGroup({
    name: 'tg',
    port: 8080,
    healthCheck: { protocol: 'HTTP', path: '/healthz' },
    attributes: { 'proxy_protocol_v2.enabled': 'true' },
  })
  const group = emu.targetGroup(arn)
  const nlb = await startNlb({ targetGroup: group })
  t.teardown(async () => {
    await nlb.close()
    await emu.close()
  })
  group.register('127.0.0.24', tgt.port)
  t.ok(await until(() => group.get('127.0.0.24', tgt.port)!.health.state === 'healthy'))
  const b = tgt.seen[0]!.bytes
  t.equal(b[12], 0x20, 'LOCAL command')
  t.equal(b[13], 0x11, 'family byte still TCP4')
  t.equal(b.readUInt16BE(14), 84)
  t.ok(
    b.subarray(16, 28).every((x) => x === 0),
    'no addresses',
  )
  t.match(b.subarray(100).toString(), /^GET \/healthz HTTP\/1\.1\r\n/)
})

t.test('after DeregisterTargets new connections keep arriving for the lag, then stop', async (t) => {
  const a = await target(t, '127.0.0.25')
  const b = await target(t, '127.0.0.26')
  // timeScale 0.01: lag 120 s → 1.2 s; deregistration delay 300 s → 3 s.
  const { group, nlb, port } = await lab(t)
  group.setHealth('127.0.0.25', a.port, 'healthy')
  group.setHealth('127.0.0.26', b.port, 'healthy')
  group.deregister('127.0.0.25', a.port)
  t.equal(group.get('127.0.0.25', a.port)!.health.state, 'draining')
  const deregisteredAt = Date.now()
  const clients: net.Socket[] = []
  t.teardown(() => {
    for (const c of clients) c.destroy()
  })
  while (Date.now() - deregisteredAt < 900) {
    clients.push(await connect(port))
    await sleep(5)
  }
  await sleep(50)
  const during = a.seen.length
  t.ok(during > 0, `the draining target still got ${during} new connections during the lag`)
  t.ok(nlb.stats.flowsToDeregistered === during)
  await sleep(1300 - (Date.now() - deregisteredAt))
  const before = a.seen.length
  for (let i = 0; i < 40; i++) clients.push(await connect(port))
  await sleep(50)
  t.equal(a.seen.length, before, 'none after the lag')
  t.equal(b.seen.length, clients.length - before, 'all to the registered target')
  t.ok(await until(() => group.get('127.0.0.25', a.port) === undefined, 4000), 'removed after the deregistration delay')
})

t.test('fail-open when every target is unhealthy; reset when there is no target at all', async (t) => {
  const a = await target(t, '127.0.0.27')
  const { group, nlb, port } = await lab(t, { unhealthyLagSeconds: 0 })
  group.setHealth('127.0.0.27', a.port, 'unhealthy')
  const c = await connect(port)
  t.teardown(() => c.destroy())
  t.ok(await until(() => a.seen.length === 1), 'routed to the unhealthy target (fail-open)')
  group.deregister('127.0.0.27', a.port)
  const d = net.connect(port, '127.0.0.1')
  const err = await once(d, 'error').then(
    ([e]) => e as NodeJS.ErrnoException,
    () => undefined,
  )
  t.equal(err?.code, 'ECONNRESET', 'no target: the client is reset')
  t.equal(nlb.stats.resets['no-target'], 1)
})

t.test('flows to a target that turns unhealthy are reset', async (t) => {
  const a = await target(t, '127.0.0.28')
  const { group, port } = await lab(t)
  group.setHealth('127.0.0.28', a.port, 'healthy')
  const c = await connect(port)
  const errored = once(c, 'error').then(([e]) => (e as NodeJS.ErrnoException).code)
  c.write('x')
  t.ok(await until(() => a.seen.length === 1))
  group.reportHealthCheck('127.0.0.28', a.port, false)
  t.equal(await errored, 'ECONNRESET')
})

t.test('connection termination at the end of the deregistration delay, only when enabled', async (t) => {
  for (const enabled of [true, false]) {
    const a = await target(t, enabled ? '127.0.0.29' : '127.0.0.30')
    // timeScale 0.01: delay 10 s → 100 ms.
    const { group, port, nlb } = await lab(
      t,
      {},
      {
        'deregistration_delay.timeout_seconds': '10',
        'deregistration_delay.connection_termination.enabled': String(enabled),
      },
    )
    const ip = enabled ? '127.0.0.29' : '127.0.0.30'
    group.setHealth(ip, a.port, 'healthy')
    const c = await connect(port)
    t.teardown(() => c.destroy())
    let error: string | undefined
    c.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code
    })
    c.write('x')
    t.ok(await until(() => a.seen.length === 1))
    group.deregister(ip, a.port)
    t.ok(await until(() => group.get(ip, a.port) === undefined), 'removed after the delay')
    await sleep(100)
    if (enabled) {
      t.equal(error, 'ECONNRESET', 'open flow reset when the delay ended')
      t.equal(nlb.stats.resets['deregistration-termination'], 1)
    } else {
      t.equal(error, undefined, 'open flow kept')
      t.notOk(c.destroyed)
    }
  }
})

t.test('idle flows are reset after the idle timeout', async (t) => {
  const a = await target(t, '127.0.0.31')
  // idle timeout 350 s at timeScale 0.001 → 350 ms.
  const { group, port, nlb } = await lab(t, {}, {}, 0.001)
  group.setHealth('127.0.0.31', a.port, 'healthy')
  const c = await connect(port)
  t.teardown(() => c.destroy())
  const errored = once(c, 'error').then(([e]) => (e as NodeJS.ErrnoException).code)
  c.write('x')
  const start = Date.now()
  t.equal(await errored, 'ECONNRESET')
  t.ok(Date.now() - start >= 300, 'not before the idle timeout')
  t.equal(nlb.stats.resets['idle-timeout'], 1)
})

t.test('half-close passes through: the target still answers after the client ended its side', async (t) => {
  const a = await target(t, '127.0.0.32')
  a.server.on('connection', (socket) => socket.on('end', () => socket.end(`got ${socket.bytesRead} bytes`)))
  const { group, port } = await lab(t)
  group.setHealth('127.0.0.32', a.port, 'healthy')
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => c.destroy())
  await once(c, 'connect')
  c.end('hello')
  let reply = ''
  c.on('data', (chunk: Buffer) => {
    reply += chunk.toString()
  })
  await once(c, 'end')
  t.equal(reply, 'got 5 bytes')
})

t.test('the lag outlives a short deregistration delay, per node; the last new connection per target is recorded', async (t) => {
  const a = await target(t, '127.0.0.33')
  const b = await target(t, '127.0.0.34')
  // timeScale 0.01: delay 10 s → 100 ms; node lags 60 s and 60 + 40 s → 0.6 s and 1.0 s.
  const { group, nlb, port } = await lab(
    t,
    {
      nodes: 2,
      crossZone: true,
      deregistrationLag: parseDistribution('60'),
      lagStaggerSeconds: 40,
      random: seededRandom(7),
      lagRandom: seededRandom(8),
    },
    { 'deregistration_delay.timeout_seconds': '10' },
  )
  group.setHealth('127.0.0.33', a.port, 'healthy')
  group.setHealth('127.0.0.34', b.port, 'healthy')
  group.deregister('127.0.0.33', a.port)
  const deregisteredAt = Date.now()
  t.ok(await until(() => group.get('127.0.0.33', a.port) === undefined), 'removed from the group after the 100 ms delay')
  const ends = nlb.routing.lagEnds(`127.0.0.33:${String(a.port)}`)!
  t.equal(ends.length, 2, 'one lag per node')
  t.ok(Math.abs(ends[1]! - ends[0]! - 400) < 20, `node 1 stops ~400 ms after node 0 (${ends[1]! - ends[0]!} ms)`)
  const clients: net.Socket[] = []
  t.teardown(() => {
    for (const c of clients) c.destroy()
  })
  while (Date.now() - deregisteredAt < 550) {
    clients.push(await connect(port))
    await sleep(5)
  }
  await sleep(50)
  const early = a.seen.length
  t.ok(early > 0, `${early} new connections reached the removed target during the lag`)
  t.ok(nlb.stats.lastFlowAt[`127.0.0.33:${String(a.port)}`]! >= deregisteredAt, 'its last new connection is recorded')
  await sleep(Math.max(0, ends[1]! + 50 - Date.now()))
  const before = a.seen.length
  for (let i = 0; i < 30; i++) clients.push(await connect(port))
  await sleep(50)
  t.equal(a.seen.length, before, "none once every node's lag ended")
})

t.test('cross-zone off (the NLB default): a node routes only to targets in its own AZ', async (t) => {
  const a = await target(t, '127.0.0.36') // 36 mod 3 = AZ 0
  const b = await target(t, '127.0.0.37') // AZ 1
  const { group, port } = await lab(t, { nodes: 3, random: seededRandom(3) })
  group.setHealth('127.0.0.36', a.port, 'healthy')
  group.setHealth('127.0.0.37', b.port, 'healthy')
  const clients: net.Socket[] = []
  t.teardown(() => {
    for (const c of clients) c.destroy()
  })
  for (let i = 0; i < 30; i++) clients.push(await connect(port))
  t.ok(await until(() => a.seen.length + b.seen.length === 30))
  t.ok(
    a.seen.every((s) => s.remote === '127.0.100.1'),
    'AZ 0 target: only from node 0',
  )
  t.ok(
    b.seen.every((s) => s.remote === '127.0.100.2'),
    'AZ 1 target: only from node 1 (node 2 has no target and is out of DNS)',
  )
})

t.test('lag distributions: parse, bounds, seeded draws reproduce', async (t) => {
  const d = parseDistribution('field')
  t.equal(d.min, 90)
  t.equal(d.max, 180)
  const r1 = seededRandom(42)
  const r2 = seededRandom(42)
  const xs = Array.from({ length: 2000 }, () => d.sample(r1))
  t.same(
    Array.from({ length: 2000 }, () => d.sample(r2)),
    xs,
    'same seed, same draws',
  )
  t.ok(xs.every((x) => x >= 90 && x <= 180))
  const tail = xs.filter((x) => x > 150).length / xs.length
  t.ok(tail > 0.1 && tail < 0.2, `about 15% in the tail (${tail})`)
  t.equal(parseDistribution('120').sample(r1), 120)
  t.throws(() => parseDistribution('150-90'), /runs backwards/)
  t.throws(() => parseDistribution('soon'), /not a duration distribution/)
})
