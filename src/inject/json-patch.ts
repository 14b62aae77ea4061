// RFC 6902 JSON Patch between two JSON values, and applying one. inject computes the new object,
// then this diff: the same operations rewrite a YAML document in place (yaml-io.ts) and answer the
// admission webhook, so the CLI and the webhook cannot disagree about what changed.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

export type PatchOp =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }

export const escapeToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1')
export const unescapeToken = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~')

/** `/a/b~1c/0` -> ['a', 'b/c', '0']. */
export function pathTokens(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new Error(`not a JSON pointer: ${pointer}`)
  return pointer.slice(1).split('/').map(unescapeToken)
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

const nameOf = (v: unknown): string | undefined => (isObject(v) && typeof v.name === 'string' ? v.name : undefined)

/**
 * Operations that turn `from` into `to`. Objects are diffed key by key; arrays of equal length
 * element by element; arrays of named elements (containers, ports, env) that gained or lost some
 * by name, so an added container is one `add` and not a rewrite of the list.
 */
export function diff(from: JsonValue, to: JsonValue, path = ''): PatchOp[] {
  if (deepEqual(from, to)) return []
  if (isObject(from) && isObject(to)) {
    const ops: PatchOp[] = []
    for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) ops.push({ op: 'remove', path: `${path}/${escapeToken(k)}` })
    for (const [k, v] of Object.entries(to)) {
      const p = `${path}/${escapeToken(k)}`
      if (!Object.hasOwn(from, k)) ops.push({ op: 'add', path: p, value: v })
      else ops.push(...diff(from[k]!, v, p))
    }
    return ops
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    if (from.length === to.length) return from.flatMap((x, i) => diff(x, to[i]!, `${path}/${i}`))
    const named = diffNamed(from, to, path)
    if (named) return named
  }
  return [{ op: 'replace', path, value: to }]
}

function diffNamed(from: JsonValue[], to: JsonValue[], path: string): PatchOp[] | undefined {
  const fromNames = from.map(nameOf)
  const toNames = to.map(nameOf)
  if (fromNames.some((n) => n === undefined) || toNames.some((n) => n === undefined)) return undefined
  if (new Set(fromNames).size !== from.length || new Set(toNames).size !== to.length) return undefined
  const kept = fromNames.filter((n) => toNames.includes(n))
  if (kept.join('\0') !== toNames.filter((n) => fromNames.includes(n)).join('\0')) return undefined
  const ops: PatchOp[] = []
  const current = [...fromNames]
  for (let i = from.length - 1; i >= 0; i--) {
    if (!toNames.includes(fromNames[i])) {
      ops.push({ op: 'remove', path: `${path}/${i}` })
      current.splice(i, 1)
    }
  }
  for (let i = 0; i < to.length; i++) {
    const j = current.indexOf(toNames[i])
    if (j === -1) {
      ops.push({ op: 'add', path: `${path}/${i === current.length ? '-' : i}`, value: to[i]! })
      current.splice(i, 0, toNames[i])
    } else ops.push(...diff(from[fromNames.indexOf(toNames[i])]!, to[i]!, `${path}/${i}`))
  }
  return ops
}

/** Applies operations to a deep copy of `doc`; throws on a path that does not exist. */
export function applyPatch(doc: JsonValue, ops: readonly PatchOp[]): JsonValue {
  let root = structuredClone(doc)
  for (const op of ops) {
    const tokens = pathTokens(op.path)
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the document root')
      root = structuredClone(op.value)
      continue
    }
    const last = tokens.pop()!
    let parent: JsonValue = root
    for (const t of tokens) {
      const next: JsonValue | undefined = Array.isArray(parent) ? parent[Number(t)] : isObject(parent) ? parent[t] : undefined
      if (next === undefined) throw new Error(`patch path ${op.path}: ${t} does not exist`)
      parent = next
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last)
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`patch path ${op.path}: bad index`)
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value))
      else if (op.op === 'remove') parent.splice(i, 1)
      else parent[i] = structuredClone(op.value)
    } else if (isObject(parent)) {
      if (op.op === 'remove') {
        if (!Object.hasOwn(parent, last)) throw new Error(`patch path ${op.path} does not exist`)
        delete parent[last]
      } else parent[last] = structuredClone(op.value)
    } else throw new Error(`patch path ${op.path}: parent is not a container`)
  }
  return root
}
