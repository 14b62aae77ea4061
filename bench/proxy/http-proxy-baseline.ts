// The Node baseline: the proxy a user would write themselves with `http-proxy` —
// http.createServer + proxy.web, a keep-alive agent to the app, X-Forwarded-* on (xfwd),
// errors answered 502. No PROXY protocol (it cannot read one).
//
//   node build/proxy/http-proxy-baseline.js <listen-port> <upstream-port>
import http from 'node:http'
import httpProxy from 'http-proxy'

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number)
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: true })
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502)
  res.end()
})
const server = http.createServer((req, res) => proxy.web(req, res))
server.keepAliveTimeout = 60_000
server.listen(listenPort, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`)
})
