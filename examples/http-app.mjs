#!/usr/bin/env node
// A small HTTP app to put behind drainpipe. It reports the client address it sees,
// so you can check that drainpipe recovered the real client from the PROXY header.
//
//   node examples/http-app.mjs --port 3000 [--host 127.0.0.1] [--name app-1] [--on-sigterm close|exit] [--keep-alive-timeout SECONDS]
//
//   GET  /            JSON: { name, pid, socket, xForwardedFor, forwarded, xRealIp, vpceId, proto }
//   GET  /?delay=MS   answer after MS milliseconds (a slow request)
//   GET  /?bytes=N    stream an N-byte body
//   POST /            stream the request body through a hash; answer { bytes, sha256 }
//   Upgrade: echo     101, then echo every byte back (a WebSocket stand-in)
//
// The same port speaks HTTP/2 with prior knowledge (h2c, as gRPC does over plaintext): a
// connection that starts with the HTTP/2 client preface goes to an HTTP/2 server (./h2c-app.mjs),
// which answers any gRPC unary call by echoing its message with grpc-status 0 (after the
// `delay-ms` metadata's milliseconds, the gRPC twin of ?delay).
//
// On SIGTERM the default (`close`) is what a careful app does: stop accepting, finish
// in-flight requests, exit. `exit` leaves at once, as many apps do. HTTP/2 connections get
// Node's GOAWAY (session.close(): streams in flight finish, new ones are refused).
import http from 'node:http'
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { startH2c, isPrefaceStart } from './h2c-app.mjs'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    name: { type: 'string', default: process.env.APP_NAME ?? 'http-app' },
    'on-sigterm': { type: 'string', default: process.env.ON_SIGTERM ?? 'close' },
    'keep-alive-timeout': { type: 'string', default: process.env.KEEP_ALIVE_TIMEOUT ?? '65' },
  },
})

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app')
  if (req.method === 'POST' || req.method === 'PUT') {
    const hash = createHash('sha256')
    let bytes = 0
    req.on('data', (chunk) => {
      bytes += chunk.length
      hash.update(chunk)
    })
    req.on('end', () => reply(res, 200, { bytes, sha256: hash.digest('hex') }))
    return
  }
  const delay = Number(url.searchParams.get('delay') ?? 0)
  const size = Number(url.searchParams.get('bytes') ?? -1)
  setTimeout(() => {
    if (size >= 0) return stream(res, size)
    reply(res, 200, {
      name: values.name,
      pid: process.pid,
      socket: req.socket.remoteAddress,
      xForwardedFor: req.headers['x-forwarded-for'] ?? null,
      xRealIp: req.headers['x-real-ip'] ?? null,
      forwarded: req.headers.forwarded ?? null,
      proto: req.headers['x-forwarded-proto'] ?? null,
      vpceId: req.headers['x-amzn-vpce-id'] ?? null,
    })
  }, delay)
})

server.on('upgrade', (req, socket, head) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n')
  if (head.length > 0) socket.write(head)
  socket.pipe(socket)
})

function reply(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function stream(res, size) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let left = size
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length)
      left -= n
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once('drain', pump)
    }
    res.end()
  }
  pump()
}

server.keepAliveTimeout = Math.max(1, Math.round(Number(values['keep-alive-timeout']) * 1000))
const h2c = startH2c({ name: values.name })
// One port, two protocols: the first bytes decide (the HTTP/2 preface, or anything else). The
// HTTP/1.1 server keeps its own listener and connection tracking; its connection handler runs
// once the bytes are known not to be the preface.
const [http1Connection] = server.listeners('connection')
server.removeAllListeners('connection')
server.on('connection', (socket) => {
  let seen = Buffer.alloc(0)
  const sniff = (chunk) => {
    seen = Buffer.concat([seen, chunk])
    const h2 = isPrefaceStart(seen)
    if (h2 === undefined) return
    socket.off('data', sniff)
    socket.pause()
    socket.unshift(seen)
    if (h2) h2c.server.emit('connection', socket)
    else http1Connection.call(server, socket)
    process.nextTick(() => socket.resume())
  }
  socket.on('data', sniff)
})
server.listen(Number(values.port), values.host, () => {
  console.log(JSON.stringify({ msg: 'listening', name: values.name, address: server.address() }))
})

process.on('SIGTERM', () => {
  if (values['on-sigterm'] === 'exit') process.exit(0)
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  h2c.close()
})
process.on('SIGINT', () => process.exit(0))
