// gRPC load: a pool of long-lived gRPC clients (@grpc/grpc-js), each its own channel and so its
// own single HTTP/2 connection to the NLB's listener, as real gRPC clients hold one per backend.
// Each client sends unary calls open-loop on the simulated clock (exponential gaps with mean
// `thinkSeconds`, whether or not earlier calls have been answered: they multiplex). The NLB
// routes per TCP connection, so a client's calls move to another pod only when its channel
// reconnects: after a GOAWAY, or when its connection is cut.
//
// The call is generic (/lab.Echo/Call, Buffers in and out, no proto): the lab app echoes it.
// Every call ends once: OK → ok; DEADLINE_EXCEEDED (the request timeout, simulated) → timeouts;
// UNAVAILABLE (connection refused, reset, or cut) → resets; any other status → non2xx. Codes are
// counted by name and the first clause of their details in errorsByCode.
import grpc from '@grpc/grpc-js'
import { exponential, type Random } from '../model/random.js'
import type { Timeline } from './timeline.js'
import { countsSoFar, type LoadResult, type LoadRun } from './load.js'
import { simulatedClock } from './clock.js'

export const GRPC_METHOD = '/lab.Echo/Call'

export interface GrpcLoadOptions {
  /** host:port of the NLB's listener. */
  target: string
  clients: number
  /** Mean gap between one client's calls, simulated seconds. */
  thinkSeconds: number
  /** Wall-clock seconds per simulated second. */
  timeScale: number
  random: Random
  /** Call deadline, simulated seconds. */
  timeoutSeconds: number
  /** Asked of the app per call (the `delay-ms` metadata), wall-clock ms. */
  delayMs: number
  timeline: Timeline
}

const identity = (b: Buffer): Buffer => b
/** A client of the lab app's echo method, Buffers in and out (no proto): the load's and the tests'. */
export const EchoClient = grpc.makeGenericClientConstructor(
  {
    Call: {
      path: GRPC_METHOD,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: 'Call',
    },
  },
  'Echo',
)
export type Echo = grpc.Client & {
  Call(message: Buffer, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null) => void): void
}

/**
 * The channel settings, durations scaled to the lab's clock: its own connection (no subchannel
 * shared between clients, as separate processes would have) and gRPC's reconnect backoff (1 s,
 * up to 120 s) scaled. No keepalive PINGs (grpc-js's default): with them, grpc-js 1.14 drops the
 * calls still in flight on a connection that got a graceful GOAWAY as soon as its next PING is
 * due (Node has closed the session, the PING cannot be sent: grpc/grpc-node#3068), whichever
 * server sent the GOAWAY; the lab's channels are never idle long enough for the NLB's idle
 * timeout to need them. test/lab/grpc-keepalive-goaway.test.ts shows both.
 */
export function channelOptions(o: Pick<GrpcLoadOptions, 'timeScale'>): grpc.ChannelOptions {
  const wallMs = (simSeconds: number): number => Math.max(1, Math.round(simSeconds * 1000 * o.timeScale))
  return {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': wallMs(1),
    'grpc.max_reconnect_backoff_ms': wallMs(120),
  }
}

export function startGrpcLoad(o: GrpcLoadOptions): LoadRun {
  const clock = simulatedClock(o.timeScale)
  const result: LoadResult = { requests: 0, ok: 0, non2xx: 0, resets: 0, timeouts: 0, failed: 0, errorsByCode: {}, latenciesMs: [] }
  const clients: Echo[] = []
  const message = Buffer.from('drainpipe lab call')

  const call = (client: Echo): void => {
    const started = Date.now()
    const metadata = new grpc.Metadata()
    if (o.delayMs > 0) metadata.set('delay-ms', String(o.delayMs))
    // waitForReady false (the default): a call made while the channel cannot connect fails
    // with UNAVAILABLE at once, as most clients' calls do; it is not parked for a later pod.
    const work = new Promise<void>((resolve) => {
      client.Call(message, metadata, { deadline: Date.now() + clock.wallMs(o.timeoutSeconds) }, (err) => {
        if (err === null) {
          result.ok++
          result.latenciesMs.push(Date.now() - started)
          o.timeline.count('ok')
        } else {
          const kind = err.code === grpc.status.DEADLINE_EXCEEDED ? 'timeouts' : err.code === grpc.status.UNAVAILABLE ? 'resets' : 'non2xx'
          result[kind]++
          // The status name and the first clause of its details ("UNAVAILABLE: Connection dropped"):
          // what cut a call, without addresses and timestamps.
          const code = `${grpc.status[err.code] ?? String(err.code)}: ${err.details.split(/[.:(]/)[0]!.trim()}`
          result.errorsByCode[code] = (result.errorsByCode[code] ?? 0) + 1
          o.timeline.count(kind)
        }
        resolve()
      })
    })
    void clock.track(work)
  }

  for (let i = 0; i < o.clients; i++) {
    const client = new EchoClient(o.target, grpc.credentials.createInsecure(), channelOptions(o)) as unknown as Echo
    clients.push(client)
    let first = true
    // Open loop: the next call's moment is fixed in simulated time, whatever the answers do.
    clock.every(
      () => {
        if (!first) return exponential(o.random, o.thinkSeconds)
        first = false
        return o.random() * o.thinkSeconds
      },
      () => call(client),
    )
  }

  const snapshot = (): LoadResult => countsSoFar(result)
  return {
    snapshot,
    async stop() {
      await clock.stop()
      for (const client of clients) client.close()
      return snapshot()
    },
  }
}
