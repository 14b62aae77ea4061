// The upstream for the h2c runs: hello world on node:http2 (prior knowledge), in its own
// process like hello-app.ts. Prints "listening <port>" once bound.
//
//   node build/proxy/hello-h2-app.js <port>
import http2 from 'node:http2'

const BODY = Buffer.from('hello world\n')
const HEADERS = { ':status': 200, 'content-type': 'text/plain', 'content-length': String(BODY.length) }

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } })
server.on('stream', (stream) => {
  stream.on('error', () => {})
  stream.respond(HEADERS)
  stream.end(BODY)
})
server.on('sessionError', () => {})
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`)
})
