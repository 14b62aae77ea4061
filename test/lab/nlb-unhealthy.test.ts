// The NLB model's health-check-driven behaviour, which the fast lane depends on: each node stops
// routing to a target when its own checker marks it unhealthy (plus its own unhealthy lag),
// unhealthy connection termination on (flows reset at the mark) and off (kept until the unhealthy
// draining interval ends), and fail-open as each node sees it.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { startElbv2Emulator } from '../../bench/rollout/elbv2/index.js'
import type { HealthCheckConfig } from '../../bench/rollout/elbv2/index.js'
import { startNlb, type NlbOptions } from '../../bench/rollout/nlb/index.js'
import { parseDistribution } from '../../bench/rollout/model/distribution.js'
import { seededRandom } from '../../bench/rollout/model/random.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * A TCP target that accepts, reads and never answers: every flow stays open with a request in
 * flight. It consumes what it reads: a socket with unread bytes when the peer's RST arrives reads
 * that as EOF (Linux), and its 'end', so its close, waits for a reader that never comes.
 */
async function holdingTarget(t: Teardown, host: string) {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.resume()
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { server, sockets, port: (server.address() as net.AddressInfo).port }
}

async function lab(
  t: Teardown,
  nlbOpts: Partial<NlbOptions>,
  attributes: Record<string, string> = {},
  healthCheck: Partial<HealthCheckConfig> = {},
  timeScale = 0.01,
) {
  const emu = await startElbv2Emulator({ timeScale })
  const arn = emu.createTargetGroup({ name: 'tg', port: 8080, attributes, healthCheck })
  const group = emu.targetGroup(arn)
  const nlb = await startNlb({ targetGroup: group, ...nlbOpts })
  t.teardown(async () => {
    await nlb.close()
    await emu.close()
  })
  return { group, nlb, port: nlb.address().port }
}

async function until(what: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what() && Date.now() < end) await sleep(2)
  return what()
}

t.test('each node stops routing to a failing target when its own checker marks it, plus its own unhealthy lag', async (t) => {
  // timeScale 0.01: checks every 10 s → 100 ms, timeout 10 s → 100 ms, unhealthy after 2 failures.
  // What is asserted is the order of events and the model's own times, never how late a timer
  // fired: on a loaded machine the checkers' rounds drift, and that is not what this test is about.
  for (const [lag, label] of [
    ['0', 'no lag after the mark'],
    ['30-40', 'the field lag after the mark (300-400 ms here)'],
  ] as const) {
    const a = await holdingTarget(t, '127.0.1.41')
    const b = await holdingTarget(t, '127.0.1.42')
    const { group, nlb } = await lab(t, {
      crossZone: true,
      unhealthyLag: parseDistribution(lag),
      // Seed 5 draws node phases 0.69, 0.77 and 0.22 of the interval: each round the nodes check
      // in the order 2, 0, 1.
      checkRandom: seededRandom(5),
      lagRandom: seededRandom(6),
    })
    group.register('127.0.1.41', a.port)
    group.register('127.0.1.42', b.port)
    const key = `127.0.1.41:${a.port}`
    const routes = (node: number, at?: number) => nlb.routing.eligible(node, at).some((x) => x.key === key)
    t.ok(await until(() => nlb.nodes.every((n) => routes(n.index))), `${label}: every node routes to the target`)
    // Per node, from now on: each check's outcome in order, and what the node's routing said
    // right after it; the mark, with the moment the model set for the node to stop routing.
    const checks = nlb.nodes.map(() => [] as Array<{ passed: boolean; routes: boolean }>)
    const marks: Array<{ node: number; afterChecks: number; at: number; stopAt: number; routesAt: boolean }> = []
    nlb.checker!.on('check', (target, node, passed) => {
      if (target.key === key) checks[node]!.push({ passed, routes: routes(node) })
    })
    nlb.routing.on('node-health', (target, node, _previous, next, at) => {
      if (target.key !== key || next !== 'unhealthy') return
      const stopAt = nlb.routing.unhealthyStops(key)![node]!
      marks.push({ node, afterChecks: checks[node]!.length, at, stopAt, routesAt: routes(node, at) })
    })
    a.server.close() // checks are refused from now on
    t.ok(await until(() => marks.length === 3, 10_000), `${label}: every node marked the target`)

    for (const mark of marks) {
      const i = mark.node
      const own = checks[i]!.slice(0, mark.afterChecks)
      const failed = own.length - own.findLastIndex((c) => c.passed) - 1
      t.equal(failed, 2, `node ${i} marked it on its own second failed check in a row (${own.length} checks since the close)`)
      t.ok(
        own.every((c) => c.routes),
        `node ${i} routed to it after each of its checks before the mark, whatever the other nodes had seen`,
      )
      const lagMs = mark.stopAt - mark.at
      if (lag === '0') {
        t.equal(lagMs, 0, `node ${i} stops routing at its own mark`)
        t.notOk(mark.routesAt, `node ${i} routes no new flow to it from its mark on`)
      } else {
        t.ok(lagMs >= 300 && lagMs <= 400, `node ${i} stops routing 300-400 ms after its own mark (${lagMs} ms)`)
        t.ok(mark.routesAt && routes(i, mark.stopAt - 1), `node ${i} still routes to it until then`)
        t.notOk(routes(i, mark.stopAt), `node ${i} routes no new flow to it from then on`)
      }
    }
    // Nodes are not synchronised: the marks come one node at a time, in the order of the nodes'
    // phases (a rotation of 2, 0, 1, depending on where in the round the checks began to fail).
    const order = marks.map((m) => m.node).join(',')
    t.ok(['2,0,1', '0,1,2', '1,2,0'].includes(order), `the nodes marked it each at its own moment, in phase order (${order})`)
    t.ok(await until(() => nlb.nodes.every((n) => !routes(n.index)), 10_000), `${label}: every node stopped routing to it`)
    t.same(
      nlb.nodes.map((n) => nlb.routing.eligible(n.index).map((x) => x.key)),
      nlb.nodes.map(() => [`127.0.1.42:${b.port}`]),
      `${label}: afterwards every node routes only to the healthy target`,
    )
  }
})

t.test(
  'unhealthy connection termination: on resets a node’s flows at its mark; off keeps them until the draining interval ends',
  async (t) => {
    for (const termination of [true, false]) {
      const ip = termination ? '127.0.1.43' : '127.0.1.44'
      const a = await holdingTarget(t, ip)
      // Health checks off: the target group's state is every node's view. timeScale 0.01: the
      // draining interval 50 s → 500 ms.
      const { group, nlb, port } = await lab(
        t,
        { healthChecks: false, unhealthyLag: parseDistribution('0') },
        {
          'target_health_state.unhealthy.connection_termination.enabled': String(termination),
          'target_health_state.unhealthy.draining_interval_seconds': termination ? '0' : '50',
        },
      )
      group.setHealth(ip, a.port, 'healthy')
      // Three clients, each with a request in flight (the target never answers).
      const clients: Array<{ socket: net.Socket; error?: string }> = []
      t.teardown(() => {
        for (const c of clients) c.socket.destroy()
      })
      for (let i = 0; i < 3; i++) {
        const socket = net.connect(port, '127.0.0.1')
        const c: { socket: net.Socket; error?: string } = { socket }
        socket.on('error', (e: NodeJS.ErrnoException) => {
          c.error = e.code
        })
        await once(socket, 'connect')
        socket.write('GET / HTTP/1.1\r\nHost: lab\r\n\r\n')
        clients.push(c)
      }
      t.ok(await until(() => a.sockets.size === 3), 'three flows open to the target')
      const markedAt = Date.now()
      // Health checks off: the mark reaches every node's routing, and the NLB's reaction to it,
      // synchronously; the sockets' closes are then awaited, not timed.
      group.reportHealthCheck(ip, a.port, false)
      if (termination) {
        t.equal(nlb.stats.resets['unhealthy-termination'], 3, 'its 3 flows were reset at the mark')
        t.ok(await until(() => a.sockets.size === 0), 'no flow to it is left open')
        t.ok(await until(() => clients.every((c) => c.error !== undefined)), 'every client saw its flow end')
        t.same(
          clients.map((c) => c.error),
          ['ECONNRESET', 'ECONNRESET', 'ECONNRESET'],
          'the clients with a request in flight see ECONNRESET',
        )
      } else {
        await sleep(150)
        t.equal(nlb.stats.resets['unhealthy-termination'], 0, 'nothing reset at the mark')
        t.equal(a.sockets.size, 3, 'its 3 flows are still open 150 ms after the mark')
        t.same(
          clients.map((c) => c.error),
          [undefined, undefined, undefined],
          'no client saw an error',
        )
        t.ok(await until(() => a.sockets.size === 0, 10_000), 'closed once the draining interval ended')
        const closedAfter = Date.now() - markedAt
        t.ok(closedAfter >= 480, `not before the 500 ms interval (${closedAfter} ms)`)
        t.equal(nlb.stats.resets['unhealthy-draining-end'], 3, 'counted as closed at the end of the draining interval')
      }
    }
  },
)

t.test(
  'fail-open is per node: a node that sees every target unhealthy routes to all of them, one that sees a healthy target does not',
  async (t) => {
    // HTTP checks: `a` fails for every node; `b` answers 200 to node 1 (127.0.100.2) only, as when
    // one AZ's path to it works. Node 1 sees b healthy; nodes 0 and 2 see both unhealthy.
    const servers: http.Server[] = []
    const serve = async (host: string, ok: (source: string) => boolean) => {
      const server = http.createServer((req, res) => {
        res.writeHead(ok(req.socket.remoteAddress ?? '') ? 200 : 503, { connection: 'close' }).end()
      })
      servers.push(server)
      server.listen(0, host)
      await once(server, 'listening')
      return (server.address() as net.AddressInfo).port
    }
    t.teardown(() => {
      for (const s of servers) {
        s.closeAllConnections()
        s.close()
      }
    })
    const aPort = await serve('127.0.1.47', () => false)
    const bPort = await serve('127.0.1.48', (source) => source === '127.0.100.2')
    const { group, nlb, port } = await lab(
      t,
      { crossZone: true, unhealthyLag: parseDistribution('0'), random: seededRandom(3) },
      {},
      { protocol: 'HTTP', path: '/' },
    )
    group.register('127.0.1.47', aPort)
    group.register('127.0.1.48', bPort)
    const a = `127.0.1.47:${aPort}`
    const b = `127.0.1.48:${bPort}`
    const keys = (node: number) => nlb.routing.eligible(node).map((x) => x.key)
    // Two failures or two passes per node: 200 ms here; wait for the API's verdicts, then a few rounds more.
    t.ok(
      await until(
        () => group.get('127.0.1.47', aPort)!.health.state === 'unhealthy' && group.get('127.0.1.48', bPort)!.health.state === 'unhealthy',
      ),
      'the API (the majority of nodes) reports both targets unhealthy',
    )
    await sleep(300)

    t.same(keys(0), [a, b], 'node 0 sees no healthy target: fails open to both')
    t.same(keys(1), [b], 'node 1 sees b healthy: routes only to b')
    t.same(keys(2), [a, b], 'node 2 fails open to both')
    t.same(
      [0, 1, 2].map((n) => [nlb.routing.nodeHealth(a, n), nlb.routing.nodeHealth(b, n)]),
      [
        ['unhealthy', 'unhealthy'],
        ['unhealthy', 'healthy'],
        ['unhealthy', 'unhealthy'],
      ],
      'each node’s own view',
    )
    // Real connections: those landing on node 1 all reach b.
    const byNode = new Map<number, Set<string>>()
    nlb.on('flow', (target, node) => {
      byNode.set(node.index, (byNode.get(node.index) ?? new Set()).add(target.key))
    })
    const clients: net.Socket[] = []
    t.teardown(() => {
      for (const c of clients) c.destroy()
    })
    for (let i = 0; i < 60; i++) {
      const c = net.connect(port, '127.0.0.1')
      c.on('error', () => {})
      clients.push(c)
      await once(c, 'connect')
    }
    await until(() => [...byNode.values()].reduce((n, s) => n + s.size, 0) >= 5)
    t.same([...(byNode.get(1) ?? [])], [b], 'flows through node 1 went only to b')
    t.ok((byNode.get(0)?.has(a) ?? false) || (byNode.get(2)?.has(a) ?? false), 'flows through nodes 0 and 2 reached a (fail-open)')
  },
)
