#!/usr/bin/env node
// A server-speaks-first TCP app (like SMTP, FTP or MySQL): it greets before the client
// says anything, then answers each line in upper case; `QUIT` ends the session.
//
//   node examples/tcp-greeter.mjs --port 4000 [--host 127.0.0.1]
//
// Behind an NLB with PROXY protocol v2 such protocols need
// `proxy_protocol_v2.client_to_server.header_placement=on_first_ack`: by default the NLB
// holds the header until the client's first bytes, and a client waiting for the greeting
// never sends any.
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4000' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
  },
})

const server = net.createServer((socket) => {
  socket.setEncoding('utf8')
  socket.write(`220 greeter ready ${socket.remoteAddress}\r\n`)
  let pending = ''
  socket.on('data', (text) => {
    pending += text
    let eol
    while ((eol = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, eol).replace(/\r$/, '')
      pending = pending.slice(eol + 1)
      if (line.toUpperCase() === 'QUIT') {
        socket.end('221 bye\r\n')
        return
      }
      socket.write(`250 ${line.toUpperCase()}\r\n`)
    }
  })
  socket.on('error', () => {})
})

server.listen(Number(values.port), values.host, () => {
  console.log(JSON.stringify({ msg: 'listening', address: server.address() }))
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
