// `drainpipe inject` and `drainpipe uninject`: manifests in (files or stdin), manifests out
// (stdout), notes and errors on stderr. Nothing is written when any object is refused: exit 1.
import { readFileSync } from 'node:fs'
import { parseArgs, UsageError } from './args.js'
import { InjectError } from '../errors.js'
import { INJECT_OPTIONS, PASSED_OPTIONS } from './options.js'
import { newToken } from './token.js'
import { transform, type Direction } from './transform.js'
import { readInput, type Input } from './yaml-io.js'

export async function runInject(direction: Direction, argv: readonly string[], version: string): Promise<number> {
  let args
  try {
    args = parseArgs(argv)
    if (direction === 'uninject' && args.settings.size > 0)
      throw new UsageError('uninject takes no settings: it undoes what inject recorded')
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`drainpipe ${direction}: ${err.message}\n`)
    return 2
  }
  if (args.help) {
    process.stdout.write(renderInjectHelp(direction, version))
    return 0
  }
  const files = args.positional.length > 0 ? args.positional : ['-']
  const inputs: Input[] = []
  const sources: string[] = []
  try {
    for (const file of files) {
      const source = file === '-' ? 'stdin' : file
      let text: string
      try {
        text = file === '-' ? await readStdin() : readFileSync(file, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InjectError('ERR_INJECT_INPUT', `${source}: no such file`)
        throw err
      }
      const input = readInput(text, source)
      inputs.push(input)
      sources.push(...input.docs.map((_, i) => (input.docs.length > 1 ? `${source} #${i + 1}` : source)))
    }
  } catch (err) {
    if (!(err instanceof InjectError)) throw err
    process.stderr.write(`drainpipe ${direction}: error: ${err.message}\n`)
    return 1
  }
  // One transform over every file: a Service in one file is matched with the pods of another.
  const result = transform(
    inputs.flatMap((i) => i.docs),
    direction,
    { given: args.settings, version, newToken },
    sources,
  )
  for (const n of result.notes) process.stderr.write(`drainpipe ${direction}: note: ${n}\n`)
  for (const e of result.errors) process.stderr.write(`drainpipe ${direction}: error: ${e.message}\n`)
  if (result.errors.length > 0) {
    process.stderr.write(`drainpipe ${direction}: nothing written: fix the errors above and run again\n`)
    return 1
  }
  let at = 0
  const outputs = inputs.map((input) => {
    const docs = result.docs.slice(at, at + input.docs.length)
    at += input.docs.length
    return input.render(docs)
  })
  // Several files become one stream: YAML documents separated by ---, JSON values one after another.
  process.stdout.write(
    outputs
      .map((o, i) => {
        const sep = i > 0 && inputs[i]!.format === 'yaml' && !o.startsWith('---') ? '---\n' : ''
        return sep + (o.endsWith('\n') || o === '' ? o : `${o}\n`)
      })
      .join(''),
  )
  return 0
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export function renderInjectHelp(direction: Direction, version: string): string {
  if (direction === 'uninject') {
    return [
      `drainpipe ${version}`,
      '',
      'Usage: drainpipe uninject [FILE ...]   (no FILE, or -: stdin)',
      '',
      'Removes what `drainpipe inject` added, from the drainpipe.io/undo annotation it left, and writes the',
      'manifests to stdout.',
      '',
    ].join('\n')
  }
  const lines = [
    `drainpipe ${version}`,
    '',
    'Usage: drainpipe inject [--setting VALUE ...] [FILE ...]   (no FILE, or -: stdin)',
    '',
    'Adds drainpipe to every pod template of the Kubernetes YAML or JSON it reads (Pod, Deployment,',
    'StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List) and writes it to stdout. Each setting is',
    'also a pod annotation, drainpipe.io/SETTING, which wins over the flag. Settings:',
    '',
  ]
  for (const o of INJECT_OPTIONS) {
    lines.push(`  --${o.flag} ${o.placeholder} (default ${o.default || o.defaultFrom})`, `      ${o.help}`)
  }
  lines.push('', '  and every drainpipe option but --listen, --upstream, --grace-period, --admin-token (set by inject):')
  lines.push(`  ${PASSED_OPTIONS.map((o) => `--${o.flag}`).join(' ')}`, '  (see drainpipe --help)', '')
  return lines.join('\n')
}
