// The upstream for throughput runs: the smallest useful Node HTTP server (hello world on
// node:http, keep-alive), in its own process so that the proxy in front of it is what is
// measured. Prints "listening <port>" once bound.
//
//   node build/proxy/hello-app.js <port>
import http from 'node:http'

const BODY = Buffer.from('hello world\n')
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) }

const server = http.createServer((req, res) => {
  res.writeHead(200, HEADERS)
  res.end(BODY)
  req.resume()
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`)
})
