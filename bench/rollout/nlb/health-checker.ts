// NLB health checks: one checker per LB node (one node per enabled AZ, default 3), each from
// its own source address, so a target sees N checks per interval. TCP checks connect and
// close without sending a byte; HTTP checks send a PROXY v2 LOCAL header first when the
// target group has proxy protocol on, then `GET path`, and pass on 200–399.
// Each node keeps its own consecutive-success/failure counters against the thresholds and acts
// on its own verdict (`onNodeVerdict`: the node's routing, ./routing.ts); the target's API state
// follows the majority of nodes. Nodes are not synchronised: each starts its rounds at its own
// phase within the interval (seeded when `phaseRandom` is given), so each node marks a target
// unhealthy at its own moment, between (threshold - 1) and threshold intervals after the checks
// start failing, plus the check timeout.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Target, TargetGroup } from '../elbv2/target-group.js'
import { localHeader } from './proxy-header.js'
import type { Random } from '../model/random.js'

/** A timer this late means the harness stalled. */
const STALL_MS = 50
/** How many more timeouts a check gets for the harness's stalls. */
const MAX_EXTENSIONS = 3

export interface LbNode {
  index: number
  address: string
}

interface NodeView {
  state: 'initial' | 'healthy' | 'unhealthy'
  ok: number
  fail: number
  reason: string
}

export interface HealthCheckerOptions {
  nodes: readonly LbNode[]
  /** Keep checking targets while they drain. Unverified in AWS; default true. */
  checkWhileDraining: boolean
  /** A node crossed a threshold for a target. */
  onNodeVerdict?: (target: Target, node: number, state: 'healthy' | 'unhealthy') => void
  /** Each node's phase within the interval. Default: spread evenly. */
  phaseRandom?: Random
  /** Wall-clock floor of the check timeout, ms. Default 0. */
  timeoutFloorMs?: number
}

export interface HealthCheckStats {
  checks: number
  passed: number
  failed: number
}

export interface HealthCheckerEvents {
  /** One node's check of one target ended (before its verdict, if it crossed a threshold). */
  check: [target: Target, node: number, passed: boolean]
}

export class HealthChecker extends EventEmitter<HealthCheckerEvents> {
  private readonly views = new Map<string, NodeView[]>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly sockets = new Set<net.Socket>()
  private closed = false
  readonly stats: HealthCheckStats = { checks: 0, passed: 0, failed: 0 }

  constructor(
    readonly group: TargetGroup,
    readonly opts: HealthCheckerOptions,
  ) {
    super()
  }

  start(): void {
    const intervalMs = this.group.scaled(this.group.healthCheck.intervalSeconds)
    const n = this.opts.nodes.length
    for (const node of this.opts.nodes) {
      // Nodes are not synchronised: each starts at its own phase within the interval.
      const phase = this.opts.phaseRandom === undefined ? node.index / n : this.opts.phaseRandom()
      const first = setTimeout(
        () => {
          this.round(node)
          const every = setInterval(() => this.round(node), intervalMs)
          every.unref()
          this.timers.push(every)
        },
        intervalMs * phase + 1,
      )
      first.unref()
      this.timers.push(first)
    }
  }

  close(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    for (const socket of this.sockets) socket.destroy()
  }

  private round(node: LbNode): void {
    if (this.closed) return
    for (const target of this.group.targets()) {
      if (target.deregisteredAt !== undefined && !this.opts.checkWhileDraining) continue
      this.check(node, target)
    }
  }

  private check(node: LbNode, target: Target): void {
    const hc = this.group.healthCheck
    const port = hc.port === 'traffic-port' ? target.port : Number(hc.port)
    const timeoutMs = Math.max(this.group.scaled(hc.timeoutSeconds), this.opts.timeoutFloorMs ?? 0)
    const socket = net.connect({ host: target.id, port, localAddress: node.address })
    this.sockets.add(socket)
    this.stats.checks++
    let done = false
    const finish = (passed: boolean, reason: string): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      this.sockets.delete(socket)
      if (this.closed) return
      if (passed) this.stats.passed++
      else this.stats.failed++
      this.emit('check', target, node.index, passed)
      this.record(node, target, passed, reason)
    }
    // A check times out only on the target's account: when the harness itself stalled (the timer
    // fired late), the answer may be waiting unread, so let pending I/O run and give it another
    // timeout rather than fail a target for the harness's stall.
    // At most a few times: a target that never answers still fails on a busy harness.
    let due = Date.now() + timeoutMs
    let extensions = 0
    const expire = (): void => {
      const late = Date.now() - due
      if (late > STALL_MS && extensions++ < MAX_EXTENSIONS) {
        due = Date.now() + timeoutMs
        timer = setTimeout(expire, timeoutMs)
        timer.unref()
        return
      }
      setImmediate(() => finish(false, 'Target.Timeout'))
    }
    let timer = setTimeout(expire, timeoutMs)
    timer.unref()
    socket.on('error', () => finish(false, 'Target.FailedHealthChecks'))
    socket.on('connect', () => {
      if (hc.protocol === 'TCP') return finish(true, '')
      if (this.group.boolAttribute('proxy_protocol_v2.enabled')) socket.write(localHeader())
      socket.write(
        `GET ${hc.path} HTTP/1.1\r\nHost: ${target.id}:${port}\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n`,
      )
      let head = ''
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1')
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head)
        if (m !== null) finish(Number(m[1]) >= 200 && Number(m[1]) < 400, 'Target.ResponseCodeMismatch')
        else if (head.length > 64 || head.includes('\r\n')) finish(false, 'Target.ResponseCodeMismatch')
      })
      socket.on('end', () => finish(false, 'Target.FailedHealthChecks'))
    })
  }

  private record(node: LbNode, target: Target, passed: boolean, reason: string): void {
    let views = this.views.get(target.key)
    if (views === undefined) {
      views = this.opts.nodes.map(() => ({ state: 'initial' as const, ok: 0, fail: 0, reason: '' }))
      this.views.set(target.key, views)
    }
    const view = views[node.index]!
    const hc = this.group.healthCheck
    if (passed) {
      view.ok++
      view.fail = 0
      if (view.state !== 'healthy' && view.ok >= hc.healthyThreshold) {
        view.state = 'healthy'
        this.opts.onNodeVerdict?.(target, node.index, 'healthy')
      }
    } else {
      view.fail++
      view.ok = 0
      view.reason = reason
      if (view.state !== 'unhealthy' && view.fail >= hc.unhealthyThreshold) {
        view.state = 'unhealthy'
        this.opts.onNodeVerdict?.(target, node.index, 'unhealthy')
      }
    }
    const healthy = views.filter((v) => v.state === 'healthy').length
    const unhealthy = views.filter((v) => v.state === 'unhealthy').length
    if (healthy * 2 > views.length) this.group.reportHealthCheck(target.id, target.port, true)
    else if (unhealthy * 2 > views.length) this.group.reportHealthCheck(target.id, target.port, false, view.reason)
  }

  forget(key: string): void {
    this.views.delete(key)
  }
}
