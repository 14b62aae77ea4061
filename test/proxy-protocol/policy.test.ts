// The source policy: mode x trusted/untrusted, IPv4, IPv6 and IPv4-mapped IPv6 peers, and
// CIDR list validation.
import t from 'tap'
import { createSourcePolicy, parseCidr, parseCidrList } from '../../src/proxy-protocol/index.js'
import type { ProxyProtocolMode, SourcePolicy } from '../../src/proxy-protocol/index.js'

const TRUSTED = ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '2001:db8:1::/48', '::ffff:172.16.0.0/108']

t.test('decision table', async (t) => {
  const rows: Array<[string, boolean]> = [
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.1.2.3', true], // a dual-stack listener's view of an IPv4 peer
    ['::FFFF:10.1.2.3', true],
    ['::ffff:11.1.2.3', false],
    ['172.16.5.5', true], // from the mapped CIDR, stored as 172.16.0.0/12
    ['172.32.0.1', false],
    ['fd00::1', true],
    ['fdff:ffff::1', true],
    ['fe00::1', false],
    ['2001:db8:1:ffff::1', true],
    ['2001:db8:2::1', false],
    ['::1', false],
    ['', false],
    ['not-an-ip', false],
  ]
  const expect: Record<ProxyProtocolMode, [SourcePolicy, SourcePolicy]> = {
    required: ['require', 'reject'],
    optional: ['use', 'refuse-header'],
    off: ['skip', 'skip'],
  }
  for (const mode of ['required', 'optional', 'off'] as const) {
    const policy = createSourcePolicy({ mode, trusted: TRUSTED })
    for (const [addr, trusted] of rows) {
      t.equal(policy(addr), expect[mode][trusted ? 0 : 1], `${mode} ${addr || '(empty)'}`)
    }
  }
  const none = createSourcePolicy({ mode: 'required', trusted: [] })
  t.equal(none('10.0.0.1'), 'reject', 'an empty list trusts nobody')
  const all = createSourcePolicy({ mode: 'optional', trusted: ['0.0.0.0/0', '::/0'] })
  t.equal(all('8.8.8.8'), 'use')
  t.equal(all('2606:4700::1'), 'use')
  t.equal(all('::ffff:8.8.8.8'), 'use')
})

t.test('CIDR parsing', async (t) => {
  t.same(parseCidrList('10.0.0.0/8, fc00::/7 192.168.0.1,,::FFFF:10.0.0.0/104'), ['10.0.0.0/8', 'fc00::/7', '192.168.0.1/32', '10.0.0.0/8'])
  t.same(parseCidrList(''), [])
  t.same(parseCidr('2001:DB8::/32'), { address: '2001:db8::', prefix: 32, family: 6 })
  for (const [text, item] of [
    ['10.0.0.0/8,10.0.0.0/33', '10.0.0.0/33'],
    ['fc00::/129', 'fc00::/129'],
    ['10.0.0.0/', '10.0.0.0/'],
    ['10.0.0.0/08', '10.0.0.0/08'],
    ['10.0.0.0/-1', '10.0.0.0/-1'],
    ['10.0.0/8', '10.0.0/8'],
    ['example.com/8', 'example.com/8'],
    ['10.0.0.0/8/8', '10.0.0.0/8/8'],
  ]) {
    t.throws(
      () => parseCidrList(text!),
      { code: 'ERR_PP_BAD_CIDR', message: new RegExp(JSON.stringify(item).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) },
      `${text} names ${item}`,
    )
  }
  t.throws(() => createSourcePolicy({ mode: 'required', trusted: ['300.0.0.0/8'] }), { code: 'ERR_PP_BAD_CIDR' })
  t.throws(() => createSourcePolicy({ mode: 'sometimes' as ProxyProtocolMode, trusted: [] }), { code: 'ERR_PP_BAD_OPTION' })
})
