// The HTTP/2 half of http-app.mjs: connections handed over after the preface was sniffed.
// Any gRPC unary call (content-type application/grpc…, any path, e.g. /lab.Echo/Call) is
// answered with its own request message echoed and grpc-status 0, after the `delay-ms`
// metadata's milliseconds (so calls can be in flight at SIGTERM). Other HTTP/2 requests get a
// JSON answer like HTTP/1.1's GET /.
import http2 from 'node:http2'

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

/** true: the bytes are the HTTP/2 preface; false: they cannot be; undefined: too few bytes to say. */
export function isPrefaceStart(bytes) {
  const n = Math.min(bytes.length, PREFACE.length)
  if (!bytes.subarray(0, n).equals(PREFACE.subarray(0, n))) return false
  return n === PREFACE.length ? true : undefined
}

export function startH2c({ name }) {
  const server = http2.createServer()
  const sessions = new Set()
  server.on('session', (session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
    session.on('error', () => {})
  })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    const delay = Number(headers['delay-ms'] ?? 0)
    const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc')
    const chunks = []
    stream.on('data', (chunk) => chunks.push(chunk))
    stream.on('end', () => {
      setTimeout(() => {
        if (stream.destroyed || stream.closed) return
        if (!grpc) {
          const text = JSON.stringify({ name, pid: process.pid, proto: 'h2c', xForwardedFor: headers['x-forwarded-for'] ?? null })
          stream.respond({ ':status': 200, 'content-type': 'application/json' })
          stream.end(text)
          return
        }
        // The request is one length-prefixed message; the answer is the same bytes.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
        stream.end(Buffer.concat(chunks))
      }, delay)
    })
  })
  return {
    server,
    /** Node's GOAWAY on every session: streams in flight finish, no new ones. */
    close() {
      for (const session of sessions) session.close()
    },
  }
}
