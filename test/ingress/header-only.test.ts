// A PROXY header that arrives alone (HAProxy, or an NLB with header_placement=on_first_ack)
// on a connection that then ends, or idles, before any request: the load balancer did open
// it, so it is a client arrival, not a header error.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startApp } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const header = encodeV2({
  command: 'PROXY',
  family: 'TCP4',
  source: { address: '203.0.113.7', port: 40000 },
  destination: { address: '10.0.0.5', port: 80 },
  crc32c: true,
  padTo: 100,
})

t.test('header then close, header then idle: counted as client arrivals, not errors', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--header-timeout', '0.3'])

  const closed = net.connect(dp.port, '127.0.0.1')
  await once(closed, 'connect')
  closed.end(header)
  await once(closed, 'close')

  const idle = net.connect(dp.port, '127.0.0.1')
  await once(idle, 'connect')
  idle.write(header)
  idle.on('error', () => {})
  await once(idle, 'close') // closed by drainpipe at the header timeout

  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_proxy_header_errors_total'), 0, 'no header errors')
  t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'client' }), 2, 'both counted as client connections')
  t.equal(m.value('drainpipe_connections_refused_total', { reason: 'header_timeout' }), 1, 'the idle one closed at the header timeout')
  const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as { observers: { traffic: { sources?: unknown[] } } }
  t.ok(JSON.stringify(status.observers.traffic).includes('127.0.0.1'), 'the traffic observer saw the arrivals from the LB address')
})
