// Reading and writing the user's manifests. YAML keeps what it can: a document inject did not
// change is written back byte for byte; a changed one is edited in place through the same JSON
// Patch operations (json-patch.ts), so its comments, key order and quoting stay. JSON is written
// with the input's indentation.
import { isMap, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml'
import { InjectError } from '../errors.js'
import { deepEqual, diff, pathTokens, type JsonValue, type PatchOp } from './json-patch.js'

export interface Input {
  format: 'yaml' | 'json'
  docs: JsonValue[]
  /** writes the (possibly changed) documents back in the input's form */
  render(docs: readonly JsonValue[]): string
}

export function readInput(text: string, source: string): Input {
  const first = /\S/.exec(text)?.[0]
  if (first === '{' || first === '[') return readJson(text, source)
  return readYaml(text, source)
}

function readJson(text: string, source: string): Input {
  let value: JsonValue
  try {
    value = JSON.parse(text) as JsonValue
  } catch (err) {
    throw new InjectError('ERR_INJECT_INPUT', `${source}: not valid JSON: ${(err as Error).message}`)
  }
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? ''
  const trailing = text.endsWith('\n') ? '\n' : ''
  // A top-level JSON array is a stream of objects, like YAML documents.
  const docs = Array.isArray(value) ? value : [value]
  return {
    format: 'json',
    docs,
    render: (out) =>
      deepEqual(out, docs) ? text : JSON.stringify(Array.isArray(value) ? out : out[0], null, indent || undefined) + trailing,
  }
}

function readYaml(text: string, source: string): Input {
  const parsed = parseAllDocuments(text, { prettyErrors: true })
  const all = Array.isArray(parsed) ? parsed : [parsed]
  const docs: Document[] = []
  const segments: string[] = []
  let at = 0
  for (const doc of all) {
    if (doc.errors.length > 0) throw new InjectError('ERR_INJECT_INPUT', `${source}: ${doc.errors.map((e) => e.message).join('; ')}`)
    segments.push(text.slice(at, doc.range[2]))
    at = doc.range[2]
    docs.push(doc)
  }
  const tail = text.slice(at)
  // Empty documents (a lone `---`) are kept as text but are not objects to transform.
  const values = docs.map((d) => d.toJS() as JsonValue)
  return {
    format: 'yaml',
    docs: values,
    render: (out) =>
      docs
        .map((doc, i) => {
          const ops = diff(values[i]!, out[i]!)
          if (ops.length === 0) return segments[i]!
          const edited = doc.clone()
          for (const op of ops) applyToYaml(edited, op)
          return edited.toString({ lineWidth: 0, flowCollectionPadding: false })
        })
        .join('') + tail,
  }
}

/** One JSON Patch operation on a YAML document, editing nodes in place where it can. */
export function applyToYaml(doc: Document, op: PatchOp): void {
  const tokens = pathTokens(op.path)
  const last = tokens.pop()
  if (last === undefined) throw new Error('cannot patch the document root of a YAML document')
  const parent =
    tokens.length === 0
      ? doc.contents
      : doc.getIn(
          tokens.map((t, i) => keyFor(doc, tokens.slice(0, i), t)),
          true,
        )
  if (isSeq(parent)) {
    const i = last === '-' ? parent.items.length : Number(last)
    if (op.op === 'remove') parent.items.splice(i, 1)
    else if (op.op === 'add') parent.items.splice(i, 0, doc.createNode(op.value))
    else parent.items[i] = replaced(doc, parent.items[i], op.value)
    return
  }
  if (isMap(parent)) {
    if (op.op === 'remove') parent.delete(last)
    else if (parent.has(last)) parent.set(last, replaced(doc, parent.get(last, true), op.value))
    else parent.set(doc.createNode(last), doc.createNode(op.value))
    return
  }
  throw new Error(`patch path ${op.path}: no map or sequence at its parent`)
}

function keyFor(doc: Document, path: string[], token: string): string | number {
  const node =
    path.length === 0
      ? doc.contents
      : doc.getIn(
          path.map((t, i) => keyFor(doc, path.slice(0, i), t)),
          true,
        )
  return isSeq(node) ? Number(token) : token
}

/** A scalar keeps its node (and comment) when the value keeps its type; otherwise a new node. */
function replaced(doc: Document, old: unknown, value: JsonValue): unknown {
  if (isScalar(old) && value !== null && typeof value !== 'object' && typeof old.value === typeof value) {
    old.value = value
    return old
  }
  return doc.createNode(value)
}
