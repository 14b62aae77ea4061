// Address text: IPv6 output must be what Node itself shows for a socket address; input parsing
// is strict. Checked against net.SocketAddress (Node's inet_pton/inet_ntop) on random addresses.
import t from 'tap'
import { SocketAddress, isIPv6 } from 'node:net'
import { canonicalIP } from '../../src/proxy-protocol/index.js'
import { formatIPv6, parseIPv4, parseIPv6 } from '../../src/proxy-protocol/address.js'

function nodeForm(b: Uint8Array): string {
  const words: string[] = []
  for (let i = 0; i < 8; i++) words.push(((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16))
  return new SocketAddress({ address: words.join(':'), family: 'ipv6' }).address
}

t.test('formatIPv6 matches net.SocketAddress', async (t) => {
  // A deterministic generator biased to zero runs, mapped and compatible prefixes.
  let seed = 12345
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x80000000
  }
  let mismatches = 0
  for (let n = 0; n < 20000; n++) {
    const b = new Uint8Array(16)
    for (let i = 0; i < 16; i += 2) {
      const r = rnd()
      const w = r < 0.55 ? 0 : r < 0.65 ? 0xffff : r < 0.7 ? 1 : Math.floor(rnd() * 0x10000)
      b[i] = w >> 8
      b[i + 1] = w & 0xff
    }
    if (rnd() < 0.2) {
      b.fill(0, 0, 10)
      b[10] = 0xff
      b[11] = 0xff
    }
    if (rnd() < 0.1) b.fill(0, 0, 12)
    const want = nodeForm(b)
    const got = formatIPv6(b, 0)
    if (got !== want && mismatches++ < 5) t.fail(`${want} formatted as ${got}`)
    const back = new Uint8Array(16)
    if (!parseIPv6(got, back) || Buffer.compare(back, b) !== 0) t.fail(`${got} does not parse back`)
  }
  t.equal(mismatches, 0, '20000 addresses agree with Node')
  for (const s of ['::', '::1', '::2', '::ffff:0.0.0.0', '::1.2.3.4', '1::', '0:0:1::', '1:0:0:1:0:0:0:1', 'fe80::1:2']) {
    const b = new Uint8Array(16)
    t.ok(parseIPv6(s, b), `parses ${s}`)
    t.equal(formatIPv6(b, 0), nodeForm(b), `${s} formats like Node`)
  }
})

t.test('strict text parsing', async (t) => {
  for (const ok of ['0.0.0.0', '255.255.255.255', '10.0.0.1']) t.ok(parseIPv4(ok), ok)
  for (const bad of ['', '1.2.3', '1.2.3.4.', '.1.2.3', '01.2.3.4', '1.2.3.256', '1.2.3.4 ', '1..2.3', '+1.2.3.4', '1.2.3.0x1'])
    t.notOk(parseIPv4(bad), JSON.stringify(bad))
  for (const ok of [
    '::',
    '::1',
    '1::',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6::',
    '::ffff:1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4',
    'ABCD::ef',
    '0000:0000::0001',
  ]) {
    t.ok(parseIPv6(ok), ok)
    t.ok(isIPv6(ok), `${ok} is IPv6 for Node too`)
  }
  for (const bad of [
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    ':1::',
    '1::2:',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::',
    '::1.2.3',
    '::1.2.3.04',
    '1:2:3:4:5:6:7:1.2.3.4',
    'fe80::1%eth0',
    '[::1]',
    ' ::1',
    '::1.2.3.4:1',
  ]) {
    t.notOk(parseIPv6(bad), JSON.stringify(bad))
  }
  t.same(canonicalIP('2001:DB8::0:1'), { address: '2001:db8::1', family: 6 })
  t.same(canonicalIP('10.1.2.3'), { address: '10.1.2.3', family: 4 })
  t.equal(canonicalIP('10.01.2.3'), null)
})
