// Opens N connections to a port, each with a PROXY v2 header and one keep-alive GET, waits
// for every answer, prints "open <n> <failed>", then holds them all idle until stdin closes.
// A child process so that its own 10k sockets count against its own descriptor limit.
//
//   node build/proxy/idle-clients.js <port> <count>
import net from 'node:net'
import { clientHeader } from '../rollout/nlb/proxy-header.js'

const [port, count] = process.argv.slice(2).map(Number) as [number, number]
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nhost: pod\r\n\r\n')
const sockets: net.Socket[] = []
let failed = 0

function one(i: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const header = clientHeader({ address: '198.51.100.9', port: 1024 + (i % 60000) }, { address: '10.0.1.12', port: 8080 })
    s.write(Buffer.concat([header, REQUEST]))
    let text = ''
    const done = (ok: boolean) => {
      s.removeAllListeners('data')
      if (!ok) failed++
      resolve()
    }
    s.setEncoding('latin1')
    s.on('data', (chunk: string) => {
      text += chunk
      if (text.includes('\r\n\r\n') && text.endsWith('hello world\n')) done(text.startsWith('HTTP/1.1 200'))
    })
    s.on('error', () => done(false))
    sockets.push(s)
  })
}

async function main(): Promise<void> {
  const inFlight = 200
  let next = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await one(next++)
    }),
  )
  process.stdout.write(`open ${sockets.filter((s) => !s.destroyed).length} ${failed}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

void main()
