// Offline validation of Kubernetes objects against the schemas of `kubernetes-models`.
//
// The models' validate() checks types, formats and required fields but, like the OpenAPI schemas
// it is generated from, lets unknown fields through (a misspelt `readinessProbe` would pass). So
// each object is also type-checked as a TypeScript object literal against the model's interface:
// TypeScript's excess-property check rejects any field the schema does not name, at every depth.
// Strategic-merge patch files are checked the same way against a deep-partial of the interface.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { parseAllDocuments } from 'yaml'

const require = createRequire(import.meta.url)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata?: { name?: string; annotations?: Record<string, string>; labels?: Record<string, string> }
  [key: string]: unknown
}

export interface Checked {
  /** where the object came from, for messages: file path (and document index) */
  source: string
  obj: K8sObject
  /** a strategic-merge patch: every field optional, unknown fields still rejected */
  partial?: boolean
}

/** Every YAML document of a file, parsed; a syntax error throws naming the file. */
export function readYamlDocs(file: string): unknown[] {
  return parseYamlDocs(readFileSync(file, 'utf8'), file)
}

export function parseYamlDocs(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text, { prettyErrors: true })
  const out: unknown[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`)
    const value = doc.toJS()
    if (value !== null && value !== undefined) out.push(value)
  }
  return out
}

/** `apps/v1` + `Deployment` -> module `kubernetes-models/apps/v1/Deployment`, interface `IDeployment`. */
function modelModule(apiVersion: string, kind: string): string {
  if (!/^[A-Za-z0-9.-]*\/?v\d+\w*$/.test(apiVersion) || !/^[A-Z]\w+$/.test(kind)) {
    throw new Error(`not a Kubernetes object: apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}`)
  }
  return `kubernetes-models/${apiVersion}/${kind}`
}

/** Errors of the models' own validate(): types, formats, required fields. Empty when valid. */
export function modelErrors(item: Checked): string[] {
  if (item.partial) return []
  let mod: Record<string, unknown>
  try {
    mod = require(modelModule(item.obj.apiVersion, item.obj.kind)) as Record<string, unknown>
  } catch (err) {
    return [`${item.source}: no schema for ${item.obj.apiVersion} ${item.obj.kind} (${(err as Error).message.split('\n')[0]})`]
  }
  const Model = mod[item.obj.kind] as new (data: unknown) => { validate(): void }
  try {
    new Model(item.obj).validate()
    return []
  } catch (err) {
    return [`${item.source}: ${(err as Error).message}`]
  }
}

const DEEP_PARTIAL =
  'type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T\n'

/**
 * Unknown fields, and fields of the wrong type, for every object at once (one TypeScript program,
 * one virtual file per object). Empty when every object matches its schema exactly.
 */
export function unknownFieldErrors(items: readonly Checked[]): string[] {
  const files = new Map<string, { text: string; source: string }>()
  const errors: string[] = []
  items.forEach((item, i) => {
    let mod: string
    try {
      mod = modelModule(item.obj.apiVersion, item.obj.kind)
    } catch (err) {
      errors.push(`${item.source}: ${(err as Error).message}`)
      return
    }
    const iface = `I${item.obj.kind}`
    const type = item.partial ? `DeepPartial<${iface}>` : iface
    const text = `import type { ${iface} } from '${mod}'\n${item.partial ? DEEP_PARTIAL : ''}export const doc: ${type} = ${JSON.stringify(item.obj, null, 2)}\n`
    files.set(path.join(repoRoot, `__k8s_object_${i}.ts`), { text, source: item.source })
  })
  if (files.size === 0) return errors

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    skipLibCheck: true,
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const readFile = host.readFile.bind(host)
  host.getSourceFile = (name, lang, ...rest) => {
    const v = files.get(path.resolve(name))
    return v ? ts.createSourceFile(name, v.text, lang) : getSourceFile(name, lang, ...rest)
  }
  host.fileExists = (name) => files.has(path.resolve(name)) || fileExists(name)
  host.readFile = (name) => files.get(path.resolve(name))?.text ?? readFile(name)
  const program = ts.createProgram([...files.keys()], options, host)
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? files.get(path.resolve(d.file.fileName)) : undefined
    const where =
      file && d.file && d.start !== undefined
        ? `${file.source} (line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1} of the object as JSON)`
        : 'typescript'
    errors.push(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
  }
  return errors
}

/** modelErrors + unknownFieldErrors for a batch. */
export function schemaErrors(items: readonly Checked[]): string[] {
  return [...items.flatMap(modelErrors), ...unknownFieldErrors(items)]
}
