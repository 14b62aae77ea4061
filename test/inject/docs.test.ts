// docs/inject.md's annotation table is generated from the settings table; this fails when it drifts.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { OPTIONS } from '../../src/config.js'
import { INJECT_OPTIONS, NOT_PASSED, renderAnnotationTable, SET_BY_INJECT } from '../../src/inject/options.js'

const doc = readFileSync(new URL('../../docs/inject.md', import.meta.url), 'utf8')
const block = /<!-- annotations:start -->\n([\s\S]*?)\n<!-- annotations:end -->/.exec(doc)?.[1]

t.test('the annotation table matches the settings (npm run docs:annotations -- --write)', async (t) => {
  t.equal(block, renderAnnotationTable())
})

t.test("every setting has its row: inject's own and every drainpipe option inject does not set itself", async (t) => {
  for (const o of INJECT_OPTIONS) t.match(block, `\`drainpipe.io/${o.flag}\``)
  for (const o of OPTIONS) {
    if (SET_BY_INJECT.has(o.flag)) t.notMatch(block, `\`drainpipe.io/${o.flag}\``, `--${o.flag} is inject's to set`)
    else if (NOT_PASSED.has(o.flag)) t.notMatch(block, `\`drainpipe.io/${o.flag}\``, `--${o.flag} is not injected (one port per workload)`)
    else t.match(block, `\`drainpipe.io/${o.flag}\` | \`--${o.flag} `, `--${o.flag} is an annotation`)
  }
  for (const named of ['port', 'mode', 'deregistration', 'image', 'cpu-request', 'memory-limit']) t.match(block, `drainpipe.io/${named}\``)
})
