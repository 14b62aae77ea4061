// The pod-port cap derived from the descriptor limit when --max-connections is 0.
import t from 'tap'
import { fdConnectionBudget, softFdLimit, openFdCount } from '../../src/ingress/fd-budget.js'

t.test('(limit − open − reserve) / 2, the reserve a quarter of the limit up to 64', async (t) => {
  t.equal(fdConnectionBudget(64, 25), 11, 'ulimit -n 64: reserve 16, (64−25−16)/2')
  t.equal(fdConnectionBudget(1024, 20), 470, '1024: reserve 64')
  t.equal(fdConnectionBudget(1_048_576, 30), 524_241, 'a container default: effectively no cap')
  t.equal(fdConnectionBudget(10, 9), 1, 'never below one connection')
  // (An explicit undefined means "read it here", as JavaScript defaults do; unknown is tested below.)
  t.equal(fdConnectionBudget(Number.NaN, 20), 0, 'unknown limit: no cap')
  t.equal(fdConnectionBudget(1024, Number.NaN), 0, 'unknown count: no cap')
})

t.test("reads this process's own limit and descriptors", { skip: process.platform !== 'linux' && 'Linux /proc only' }, async (t) => {
  const limit = softFdLimit()
  const open = openFdCount()
  t.ok(limit === undefined || limit > 0, `limit ${limit}`)
  t.ok(open !== undefined && open > 2, `open ${open}`)
})
