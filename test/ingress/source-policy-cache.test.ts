// The per-address cache in front of the source policy: the same decision as the policy for
// every mode and address, the policy asked once per address, and bounded.
import t from 'tap'
import { createSourcePolicy } from '../../src/proxy-protocol/index.js'
import type { ProxyProtocolMode, SourcePolicy } from '../../src/proxy-protocol/index.js'
import { cachedSourcePolicy } from '../../src/ingress/source-policy-cache.js'

const TRUSTED = ['10.0.0.0/8', '192.168.1.7', 'fd00::/8']
const ADDRESSES = [
  '10.0.0.1',
  '11.0.0.1',
  '192.168.1.7',
  '192.168.1.8',
  '::ffff:10.1.2.3',
  '::ffff:11.1.2.3',
  'fd00::1',
  'fe80::1',
  '',
  'not-an-address',
]

t.test('same decision as the policy, for every mode, first and later lookups', async (t) => {
  for (const mode of ['required', 'optional', 'off'] as ProxyProtocolMode[]) {
    const policy = createSourcePolicy({ mode, trusted: TRUSTED })
    const cached = cachedSourcePolicy(policy)
    for (let round = 0; round < 2; round++) {
      for (const a of ADDRESSES) t.equal(cached(a), policy(a), `${mode} ${JSON.stringify(a)} round ${round}`)
    }
  }
})

t.test('the policy is asked once per address; past max the cache starts over', async (t) => {
  const asked: string[] = []
  const decide = (a: string): SourcePolicy => {
    asked.push(a)
    return a.startsWith('10.') ? 'use' : 'refuse-header'
  }
  const cached = cachedSourcePolicy(decide, 2)
  t.equal(cached('10.0.0.1'), 'use')
  t.equal(cached('10.0.0.1'), 'use')
  t.equal(cached('11.0.0.1'), 'refuse-header')
  t.same(asked, ['10.0.0.1', '11.0.0.1'])
  t.equal(cached('10.0.0.2'), 'use') // third distinct address: cleared, then remembered
  t.equal(cached('10.0.0.1'), 'use')
  t.same(asked, ['10.0.0.1', '11.0.0.1', '10.0.0.2', '10.0.0.1'])
})
