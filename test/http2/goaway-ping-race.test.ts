// The graceful GOAWAY's PING round trip against a client whose HTTP/2 stack sends its PING ACK
// ahead of a request it had already queued. nghttp2 (Node's client, hence grpc-js) sends control
// frames (PING ACK, SETTINGS ACK) before queued HEADERS, so a request the client submitted before
// it read the first GOAWAY can reach drainpipe *after* the ACK of the PING that followed it. The
// rollout lab saw such calls refused (`UNAVAILABLE: Stream refused by server`), and retried calls
// refused again. Raw frames over a real socket make the order exact: one write holding the PING
// ACK and then a new request's HEADERS. The request must be answered.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startDrainpipe } from '../helpers/processes.js'
import { shortWait } from '../helpers/lifecycle-flags.js'
import { startH2App } from '../helpers/h2.js'

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
const TYPE = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const
const END_STREAM = 0x1
const END_HEADERS = 0x4
const ACK = 0x1

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

// GET / over http with :authority "x": HPACK static-table indices (RFC 7541 Appendix A) and one
// literal without indexing.
const GET = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x78])

interface Frame {
  type: number
  flags: number
  stream: number
  payload: Buffer
}

class FrameReader {
  #buf = Buffer.alloc(0)
  readonly frames: Frame[] = []
  #waiters: Array<() => void> = []
  constructor(socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      while (this.#buf.length >= 9) {
        const len = this.#buf.readUIntBE(0, 3)
        if (this.#buf.length < 9 + len) break
        this.frames.push({
          type: this.#buf[3]!,
          flags: this.#buf[4]!,
          stream: this.#buf.readUInt32BE(5) & 0x7fffffff,
          payload: this.#buf.subarray(9, 9 + len),
        })
        this.#buf = this.#buf.subarray(9 + len)
      }
      for (const w of this.#waiters.splice(0)) w()
    })
    socket.on('close', () => {
      for (const w of this.#waiters.splice(0)) w()
    })
  }
  /** The first frame (seen or to come) matching, or undefined once the socket closed. */
  async next(match: (f: Frame) => boolean, socket: net.Socket): Promise<Frame | undefined> {
    for (;;) {
      const hit = this.frames.find(match)
      if (hit) return hit
      if (socket.destroyed) return undefined
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }
}

const app = await startH2App(t, (stream) => {
  stream.resume()
  stream.respond({ ':status': 200 })
  stream.end('ok')
})

t.test('a request the client queued before the GOAWAY, arriving after its PING ACK, is answered', async (t) => {
  const dp = await startDrainpipe(
    t,
    [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--upstream-protocol',
      'h2c',
      ...shortWait(2),
      ...(process.env.DEBUG_FRAMES ? ['--log-level', 'debug'] : []),
    ],
    process.env.DEBUG_FRAMES ? { env: { ...process.env, NODE_DEBUG: 'http2' } } : {},
  )
  await dp.ready()
  const socket = net.connect(dp.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  const reader = new FrameReader(socket)
  socket.write(Buffer.concat([PREFACE, frame(TYPE.SETTINGS, 0, 0), frame(TYPE.HEADERS, END_STREAM | END_HEADERS, 1, GET)]))
  await reader.next((f) => f.type === TYPE.SETTINGS && (f.flags & ACK) === 0, socket)
  socket.write(frame(TYPE.SETTINGS, ACK, 0))
  const first = await reader.next((f) => f.stream === 1 && (f.type === TYPE.HEADERS || f.type === TYPE.RST_STREAM), socket)
  t.equal(first?.type, TYPE.HEADERS, 'stream 1 answered before termination')

  dp.proc.kill('SIGTERM')
  const ping = await reader.next((f) => f.type === TYPE.PING && (f.flags & ACK) === 0, socket)
  t.ok(ping, 'termination: a PING')

  // What nghttp2 writes when a request was queued as the PING arrived: the PING ACK first
  // (control frames go ahead), then the request's HEADERS, in one write.
  socket.write(Buffer.concat([frame(TYPE.PING, ACK, 0, ping!.payload), frame(TYPE.HEADERS, END_STREAM | END_HEADERS, 3, GET)]))
  const third = await reader.next((f) => f.stream === 3 && (f.type === TYPE.HEADERS || f.type === TYPE.RST_STREAM), socket)
  t.equal(
    third?.type,
    TYPE.HEADERS,
    third?.type === TYPE.RST_STREAM
      ? `stream 3 answered, not reset (RST_STREAM code ${third.payload.readUInt32BE(0)})`
      : 'stream 3 answered',
  )
  // Answer drainpipe's further PINGs until its GOAWAY, which must count stream 3 as processed.
  const acked = new Set<Frame>([ping!])
  for (;;) {
    const f = await reader.next((x) => x.type === TYPE.GOAWAY || (x.type === TYPE.PING && (x.flags & ACK) === 0 && !acked.has(x)), socket)
    if (f === undefined || f.type === TYPE.GOAWAY) {
      t.equal(f?.payload.readUInt32BE(0), 3, 'the GOAWAY names stream 3 as processed')
      break
    }
    acked.add(f)
    socket.write(frame(TYPE.PING, ACK, 0, f.payload))
  }
  socket.end()
  await dp.exited
})
