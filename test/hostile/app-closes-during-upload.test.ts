// An app that closes its connection without answering a request that has a body: undici
// destroys the body it could not send (the client's request), which detaches the client's
// socket before drainpipe logs the failure. drainpipe stays up and keeps serving. (Found with
// the HTTP/2 work: an h2c-only app closes HTTP/1.1 connections that way; the failure hook read
// the detached socket and crashed the process.)
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startDrainpipe } from '../helpers/processes.js'
import { scrapeMetrics } from '../helpers/metrics.js'

t.test('an app closing without an answer to a POST does not take drainpipe down', async (t) => {
  // Reads the request, then closes without a byte of response.
  const app = net.createServer((s) => {
    s.once('data', () => s.destroy())
    s.on('error', () => {})
  })
  app.listen(0, '127.0.0.1')
  await once(app, 'listening')
  t.teardown(() => app.close())
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${(app.address() as net.AddressInfo).port}`])

  // The body comes after the head, so the app has closed while it is still to be sent.
  const head = 'POST /upload HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 1\r\n\r\n'
  const client = net.connect(dp.port, '127.0.0.1')
  await once(client, 'connect')
  client.write(head)
  await new Promise((r) => setTimeout(r, 300))
  client.write('x')
  const parts: Buffer[] = []
  client.on('data', (d: Buffer) => parts.push(d))
  const closedBy = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 5000)
    client.on('close', () => {
      clearTimeout(timer)
      resolve('closed')
    })
    client.on('error', () => {})
  })
  client.destroy()
  const r = { closedBy, data: Buffer.concat(parts) }
  t.not(r.closedBy, 'timeout', 'the client is not left hanging')
  const text = r.data.toString('latin1')
  t.ok(
    text === '' || text.startsWith('HTTP/1.1 502'),
    `a 502 or a closed connection, no success made up: ${JSON.stringify(text.slice(0, 40))}`,
  )

  const m = await scrapeMetrics(dp.adminUrl)
  t.ok(m.value('drainpipe_upstream_errors_total') >= 1, 'the app failure is counted')
  t.equal(dp.proc.exitCode, null, 'drainpipe is still running')
  t.equal(dp.proc.signalCode, null)
})
