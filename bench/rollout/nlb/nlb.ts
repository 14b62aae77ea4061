// The NLB data plane on loopback: a TCP listener that routes each new connection by flow hash
// to an eligible target (./routing.ts), connects from one of its nodes' source addresses,
// prepends the PROXY v2 header as the target group's attributes say, and pipes bytes.
//
// Target-group attributes read live (change them with ModifyTargetGroupAttributes):
//   proxy_protocol_v2.enabled                                   default false
//   proxy_protocol_v2.client_to_server.header_placement         on_first_ack_with_payload | on_first_ack
//   deregistration_delay.connection_termination.enabled         reset flows when the delay ends (default false)
//   target_health_state.unhealthy.connection_termination.enabled reset a node's flows to a target when that
//                                                               node marks it unhealthy (default true)
//   target_health_state.unhealthy.draining_interval_seconds     with termination off: a node closes its flows to a
//                                                               target it marked unhealthy this long after (0: kept)
import net from 'node:net'
import { EventEmitter } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Target, TargetGroup } from '../elbv2/target-group.js'
import { RoutingTable } from './routing.js'
import { HealthChecker, type LbNode } from './health-checker.js'
import { pickByHash, type FlowTuple } from './flow-hash.js'
import { clientHeader } from './proxy-header.js'
import { parseDistribution, type Distribution } from '../model/distribution.js'
import type { Random } from '../model/random.js'

export interface NlbOptions {
  targetGroup: TargetGroup
  /** Listener address. Default 127.0.0.1. */
  host?: string
  /** Listener port. Default 0 (any). */
  port?: number
  /** LB nodes (AZs). Default 3. Each has its own source address for health checks and proxied flows. */
  nodes?: number
  /** Source address of node i. Default 127.0.100.(i+1). */
  nodeAddress?: (index: number) => string
  /** Seconds new connections keep reaching a target after DeregisterTargets. Default 120 (see deregistrationLag). */
  deregistrationLagSeconds?: number
  /** The lag as a distribution, drawn per node and per target; wins over deregistrationLagSeconds. */
  deregistrationLag?: Distribution
  /** Seconds a node keeps opening new connections to a target after its own checks marked it unhealthy. Default 35 (30–40 observed). */
  unhealthyLagSeconds?: number
  unhealthyLag?: Distribution
  /** Node i's deregistration lag is longer by i × this (simulated seconds). Default 0. */
  lagStaggerSeconds?: number
  /** Cross-zone load balancing. Default false (the NLB default): a node routes to its own AZ's targets. */
  crossZone?: boolean
  /** Seeded randomness for the node/target pick. Default: targets by flow hash. */
  random?: Random
  /** Seeded randomness for the lag draws (its own stream, so draws do not depend on how many flows came first). Default Math.random. */
  lagRandom?: Random
  /** TCP idle timeout, seconds. Default 350. */
  idleTimeoutSeconds?: number
  /** Run health checks. Default true; false leaves target health to setHealth (tests). */
  healthChecks?: boolean
  /** Health-check draining targets too. Unverified in AWS. Default true. */
  checkWhileDraining?: boolean
  /** A node's unhealthy mark also ends a deregistered target's lag (assumption, see ./routing.ts). Default true. */
  unhealthyCutsLag?: boolean
  /** Seeded randomness for the health checkers' phases. Default: spread evenly over the interval. */
  checkRandom?: Random
  /** Wall-clock floor of a health check's timeout, ms (a harness stall must not fail a check). Default 0. */
  healthCheckTimeoutFloorMs?: number
  /** Send the PrivateLink TLV with this VPC endpoint id. */
  vpceId?: string
}

export type ResetReason =
  | 'no-target'
  | 'target-refused'
  | 'target-reset'
  | 'unhealthy-termination'
  | 'unhealthy-draining-end'
  | 'deregistration-termination'
  | 'idle-timeout'

export interface NlbStats {
  flows: number
  active: number
  /** New flows per target key. */
  flowsByTarget: Record<string, number>
  /** New flows that went to a target already deregistered (the post-deregistration lag at work). */
  flowsToDeregistered: number
  /** Wall-clock ms of the last new flow per target key: the LB's last routing decision for it. */
  lastFlowAt: Record<string, number>
  resets: Record<ResetReason, number>
  healthChecks: { checks: number; passed: number; failed: number }
}

interface Flow {
  client: net.Socket
  upstream: net.Socket
  target: Target
  node: number
}

export interface NlbEvents {
  flow: [target: Target, node: LbNode]
  reset: [reason: ResetReason, target: Target | undefined]
}

export class Nlb extends EventEmitter<NlbEvents> {
  readonly group: TargetGroup
  readonly nodes: LbNode[]
  readonly routing: RoutingTable
  readonly checker: HealthChecker | undefined
  private readonly server: net.Server
  private readonly flows = new Set<Flow>()
  /** Per target key and node: the end of an unhealthy draining interval. */
  private readonly drainingEnds = new Map<string, NodeJS.Timeout>()
  private readonly idleTimeoutMs: number
  private readonly vpceId: string | undefined
  private readonly random: Random | undefined
  readonly stats: NlbStats

  constructor(opts: NlbOptions) {
    super()
    const group = (this.group = opts.targetGroup)
    const nodeAddress = opts.nodeAddress ?? ((i: number) => `127.0.100.${i + 1}`)
    this.nodes = Array.from({ length: opts.nodes ?? 3 }, (_, index) => ({ index, address: nodeAddress(index) }))
    this.random = opts.random
    this.routing = new RoutingTable(group, {
      nodes: this.nodes.length,
      scaled: (s) => group.scaled(s),
      deregistrationLag: opts.deregistrationLag ?? parseDistribution(String(opts.deregistrationLagSeconds ?? 120)),
      unhealthyLag: opts.unhealthyLag ?? parseDistribution(String(opts.unhealthyLagSeconds ?? 35)),
      staggerSeconds: opts.lagStaggerSeconds ?? 0,
      crossZone: opts.crossZone ?? false,
      perNodeHealth: opts.healthChecks ?? true,
      unhealthyCutsLag: opts.unhealthyCutsLag ?? true,
      random: opts.lagRandom ?? Math.random,
    })
    this.routing.on('node-health', this.onNodeHealth)
    this.idleTimeoutMs = group.scaled(opts.idleTimeoutSeconds ?? 350)
    this.vpceId = opts.vpceId
    this.checker =
      (opts.healthChecks ?? true)
        ? new HealthChecker(group, {
            nodes: this.nodes,
            checkWhileDraining: opts.checkWhileDraining ?? true,
            onNodeVerdict: (target, node, state) => this.routing.setNodeHealth(target, node, state),
            ...(opts.checkRandom === undefined ? {} : { phaseRandom: opts.checkRandom }),
            timeoutFloorMs: opts.healthCheckTimeoutFloorMs ?? 0,
          })
        : undefined
    this.stats = {
      flows: 0,
      active: 0,
      flowsByTarget: {},
      flowsToDeregistered: 0,
      lastFlowAt: {},
      resets: {
        'no-target': 0,
        'target-refused': 0,
        'target-reset': 0,
        'unhealthy-termination': 0,
        'unhealthy-draining-end': 0,
        'deregistration-termination': 0,
        'idle-timeout': 0,
      },
      healthChecks: this.checker?.stats ?? { checks: 0, passed: 0, failed: 0 },
    }
    group.on('change', this.onChange)
    group.on('removed', this.onRemoved)
    // Half-close passes through, as on an NLB: each direction ends on its own.
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client))
  }

  async listen(host = '127.0.0.1', port = 0): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.checker?.start()
    return this.address()
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo
  }

  /** Registered targets in state healthy (what a CloudWatch HealthyHostCount would show). */
  healthyTargets(): number {
    return this.group.targets().filter((t) => t.deregisteredAt === undefined && t.health.state === 'healthy').length
  }

  /** Targets that receive new flows now (healthy, lingering after deregistration, or fail-open). */
  routableTargets(): Target[] {
    return this.routing.anyEligible()
  }

  async close(): Promise<void> {
    this.checker?.close()
    this.routing.close()
    for (const timer of this.drainingEnds.values()) clearTimeout(timer)
    this.group.off('change', this.onChange)
    this.group.off('removed', this.onRemoved)
    for (const flow of this.flows) {
      flow.client.destroy()
      flow.upstream.destroy()
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private readonly onChange = (target: Target): void => {
    if (target.health.state === 'initial') this.checker?.forget(target.key)
  }

  /**
   * A node marked a target unhealthy: with unhealthy connection termination on, it resets its
   * flows to it at once (requests in flight on them fail); off, it keeps them, and closes those
   * still open when the unhealthy draining interval ends (0: kept). Healthy again: nothing closes.
   */
  private readonly onNodeHealth = (target: Target, node: number, _previous: string, next: string): void => {
    const key = `${target.key}|${node}`
    clearTimeout(this.drainingEnds.get(key))
    this.drainingEnds.delete(key)
    if (next !== 'unhealthy') return
    if (this.group.boolAttribute('target_health_state.unhealthy.connection_termination.enabled')) {
      this.resetFlows(target, 'unhealthy-termination', node)
      return
    }
    const interval = this.group.numberAttribute('target_health_state.unhealthy.draining_interval_seconds')
    if (interval <= 0) return
    const timer = setTimeout(() => {
      this.drainingEnds.delete(key)
      this.resetFlows(target, 'unhealthy-draining-end', node)
    }, this.group.scaled(interval))
    timer.unref()
    this.drainingEnds.set(key, timer)
  }

  private readonly onRemoved = (target: Target): void => {
    this.checker?.forget(target.key)
    if (this.group.boolAttribute('deregistration_delay.connection_termination.enabled'))
      this.resetFlows(target, 'deregistration-termination')
  }

  private resetFlows(target: Target, reason: ResetReason, node?: number): void {
    for (const flow of this.flows) {
      if (flow.target !== target || (node !== undefined && flow.node !== node)) continue
      this.stats.resets[reason]++
      this.emit('reset', reason, target)
      reset(flow.client)
      reset(flow.upstream)
    }
  }

  private accept(client: net.Socket): void {
    const tuple: FlowTuple = {
      sourceAddress: client.remoteAddress ?? '0.0.0.0',
      sourcePort: client.remotePort ?? 0,
      destinationAddress: client.localAddress ?? '0.0.0.0',
      destinationPort: client.localPort ?? 0,
    }
    // DNS spreads clients over the nodes; a node with nothing to route to is out of DNS.
    const first = this.random === undefined ? (tuple.sourcePort >>> 0) % this.nodes.length : Math.floor(this.random() * this.nodes.length)
    let node = this.nodes[first]!
    let choices = this.routing.eligible(node.index)
    for (let i = 1; choices.length === 0 && i < this.nodes.length; i++) {
      node = this.nodes[(first + i) % this.nodes.length]!
      choices = this.routing.eligible(node.index)
    }
    const target = this.random === undefined ? pickByHash(tuple, choices) : choices[Math.floor(this.random() * choices.length)]
    if (target === undefined) {
      this.stats.resets['no-target']++
      this.emit('reset', 'no-target', undefined)
      client.on('error', () => {})
      reset(client)
      return
    }
    this.stats.flows++
    this.stats.active++
    this.stats.flowsByTarget[target.key] = (this.stats.flowsByTarget[target.key] ?? 0) + 1
    this.stats.lastFlowAt[target.key] = Date.now()
    if (target.deregisteredAt !== undefined || this.group.get(target.id, target.port) !== target) this.stats.flowsToDeregistered++
    this.emit('flow', target, node)

    const upstream = net.connect({ host: target.id, port: target.port, localAddress: node.address, allowHalfOpen: true })
    const flow: Flow = { client, upstream, target, node: node.index }
    this.flows.add(flow)

    const proxyProtocol = this.group.boolAttribute('proxy_protocol_v2.enabled')
    const lazy = this.group.attribute('proxy_protocol_v2.client_to_server.header_placement') !== 'on_first_ack'
    let header: Buffer | undefined = proxyProtocol
      ? clientHeader(
          { address: tuple.sourceAddress.replace(/^::ffff:/, ''), port: tuple.sourcePort },
          { address: tuple.destinationAddress.replace(/^::ffff:/, ''), port: tuple.destinationPort },
          this.vpceId,
        )
      : undefined
    let connected = false
    const pending: Buffer[] = []
    let clientEnded = false

    const flush = (): void => {
      if (!connected) return
      if (header !== undefined) {
        // Lazy placement: no payload yet, no header yet (a client that never sends gets none).
        if (lazy && pending.length === 0) {
          if (clientEnded) upstream.end()
          return
        }
        // The header travels in the same segment as the first payload.
        upstream.write(Buffer.concat([header, ...pending.splice(0)]))
        header = undefined
      } else {
        for (const chunk of pending.splice(0)) upstream.write(chunk)
      }
      if (clientEnded) upstream.end()
    }

    client.on('data', (chunk: Buffer) => {
      pending.push(chunk)
      flush()
    })
    client.on('end', () => {
      clientEnded = true
      flush()
    })
    upstream.on('connect', () => {
      connected = true
      flush()
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    })
    upstream.on('end', () => client.end())

    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      this.flows.delete(flow)
      this.stats.active--
    }
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      const reason: ResetReason = connected ? 'target-reset' : 'target-refused'
      this.stats.resets[reason]++
      this.emit('reset', reason, target)
      if (err.code !== undefined) reset(client)
      else client.destroy()
      finish()
    })
    client.on('error', () => {
      reset(upstream)
      finish()
    })
    upstream.on('close', () => {
      if (!client.destroyed && client.writableEnded) client.destroy()
      finish()
    })
    client.on('close', () => {
      if (!upstream.destroyed) upstream.destroy()
      finish()
    })

    if (this.idleTimeoutMs > 0) {
      const idle = (): void => {
        this.stats.resets['idle-timeout']++
        this.emit('reset', 'idle-timeout', target)
        reset(client)
        reset(upstream)
      }
      client.setTimeout(this.idleTimeoutMs, idle)
    }
  }
}

/**
 * Close with a TCP RST, as the NLB does. A socket whose side is already shutting down (end()
 * called) is destroyed instead: libuv refuses to reset it (uv_tcp_close_reset: EINVAL while
 * shutting), and Node then never closes its handle, so the process spins at exit in
 * Environment::CleanupHandles (seen: the lab's test process at 100% CPU after its last test).
 */
function reset(socket: net.Socket): void {
  if (socket.writableEnded) socket.destroy()
  else socket.resetAndDestroy()
}

export async function startNlb(opts: NlbOptions): Promise<Nlb> {
  const nlb = new Nlb(opts)
  await nlb.listen(opts.host, opts.port)
  return nlb
}
