// What inject can be told, once: each setting is a flag of `drainpipe inject` and a pod annotation
// (drainpipe.io/<flag>); the annotation wins, so a platform team sets fleet defaults with flags (or
// the chart's values) and a workload overrides them. Two kinds of settings:
//   - inject's own (INJECT_OPTIONS below): which port to take over, image, resources, placement;
//   - every drainpipe option of src/config.ts's OPTIONS table, passed to the container as its
//     DRAINPIPE_* environment twin, except the four inject derives itself (SET_BY_INJECT).
// `drainpipe inject --help` and the annotation table of docs/inject.md are rendered from here.
import { OPTIONS, type OptionSpec } from '../config.js'
import { InjectError } from '../errors.js'

export const ANNOTATION_PREFIX = 'drainpipe.io/'

/** drainpipe options inject computes from the pod (listen, upstream, grace period) or generates (token). */
export const SET_BY_INJECT: ReadonlySet<string> = new Set(['listen', 'upstream', 'grace-period', 'admin-token'])

export interface InjectOptionSpec {
  readonly flag: string
  readonly placeholder: string
  /** default as text ('' = derived, see defaultFrom) */
  readonly default: string
  readonly defaultFrom?: string
  readonly help: string
  parse(text: string): unknown
}

export type Sidecar = 'native' | 'classic'

export interface InjectSettings {
  /** the app's LB-facing port, by name or number; undefined: the pod's only TCP port, or the one named http */
  port: string | number | undefined
  listenPort: number | undefined
  sidecar: Sidecar
  image: string
  cpuRequest: string
  memoryRequest: string
  memoryLimit: string
  graceMarginMs: number
  /** drainpipe options by flag, as text, already checked by their own parser */
  drainpipe: Map<string, string>
}

class Invalid extends Error {}

const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*$/

function parsePortRef(text: string): string | number {
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535) return Number(text)
  if (PORT_NAME.test(text)) return text
  // drainpipe's --ports (several pod ports, name=...,listen=...) is not injected: say so.
  if (text.includes('='))
    throw new Invalid(
      "one container port name or number: inject takes over one port per workload (drainpipe's --ports is written by hand, see k8s/several-ports)",
    )
  throw new Invalid('a container port name (IANA_SVC_NAME: 1-15 lowercase letters, digits, inner dashes) or number 1-65535')
}
function parsePort(text: string): number {
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535) return Number(text)
  throw new Invalid('a port number 1-65535')
}
const parseEnum =
  (values: readonly string[]) =>
  (text: string): string => {
    if (values.includes(text)) return text
    throw new Invalid(`one of ${values.join(', ')}`)
  }
function parseImage(text: string): string {
  if (/^[a-z0-9][\w.\-/:@]*$/i.test(text) && !/\s/.test(text)) return text
  throw new Invalid('a container image reference such as registry.example.com/drainpipe:0.1.0')
}
function parseQuantity(text: string): string {
  if (/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(text)) return text
  throw new Invalid('a Kubernetes quantity such as 100m, 128Mi, 1Gi')
}
function parseMargin(text: string): number {
  const m = /^(\d+)(s)?$/.exec(text)
  if (!m || Number(m[1]) < 10 || Number(m[1]) > 3600) throw new Invalid('whole seconds from 10 to 3600')
  return Number(m[1]) * 1000
}

export const INJECT_OPTIONS: readonly InjectOptionSpec[] = [
  {
    flag: 'port',
    placeholder: 'NAME|PORT',
    default: '',
    defaultFrom: "the pod's only TCP port, else the one named http",
    parse: parsePortRef,
    help: "The app's container port the load balancer reaches. drainpipe takes it over: it listens on a new port carrying this port's name, and the app keeps its number under a new name (NAME-app).",
  },
  {
    flag: 'listen-port',
    placeholder: 'PORT',
    default: '',
    defaultFrom: 'the app port + 10000, else the first free port from 20000',
    parse: parsePort,
    help: "The number of drainpipe's new LB-facing port. Set it when the derived one is taken by something the pod spec does not show (a service mesh's proxy ports).",
  },
  {
    flag: 'sidecar',
    placeholder: 'native|classic',
    default: 'native',
    parse: parseEnum(['native', 'classic']),
    help: 'native: an init container with restartPolicy Always (Kubernetes >= 1.29): it starts before the app and stops after it. classic: a second entry in containers, for older clusters (not for Jobs: a classic sidecar never lets a Job complete).',
  },
  {
    flag: 'image',
    placeholder: 'IMAGE',
    default: '',
    defaultFrom: "drainpipe:VERSION, this drainpipe's own version",
    parse: parseImage,
    help: "drainpipe's image: where you pushed the image built from this repository's Dockerfile.",
  },
  {
    flag: 'cpu-request',
    placeholder: 'QUANTITY',
    default: '100m',
    parse: parseQuantity,
    help: "drainpipe's CPU request: measured 75m at 1000 req/s (http mode); raise it with traffic. No CPU limit is set: throttling a proxy delays every request.",
  },
  {
    flag: 'memory-request',
    placeholder: 'QUANTITY',
    default: '128Mi',
    parse: parseQuantity,
    help: "drainpipe's memory request: measured RSS 71 MiB idle, 113 MiB with 2000 open keep-alive connections.",
  },
  {
    flag: 'memory-limit',
    placeholder: 'QUANTITY',
    default: '256Mi',
    parse: parseQuantity,
    help: "drainpipe's memory limit: about twice the peak measured. Raise it for many thousands of open connections.",
  },
  {
    flag: 'grace-margin',
    placeholder: 'SECONDS',
    default: '30',
    parse: parseMargin,
    help: "Added to --max-wait + --drain-timeout to size terminationGracePeriodSeconds (never lowered): the app's own shutdown after its SIGTERM, hook start-up, log flushing. At least 10.",
  },
]

/**
 * drainpipe options inject does not pass: --ports (several pod ports) is not injected, since inject
 * takes over one port per workload (drainpipe.io/port, which app port to take over). A pod with
 * several LB-facing ports is written by hand (k8s/several-ports).
 */
export const NOT_PASSED: ReadonlySet<string> = new Set(['ports'])

/** drainpipe options a pod annotation or an inject flag may set. */
export const PASSED_OPTIONS: readonly OptionSpec[] = OPTIONS.filter((o) => !SET_BY_INJECT.has(o.flag) && !NOT_PASSED.has(o.flag))

export const annotationOf = (flag: string): string => `${ANNOTATION_PREFIX}${flag}`

/** Annotations inject reads or writes that are not settings. */
export const STATE_ANNOTATIONS = {
  /** the drainpipe version that injected this pod template */
  injected: `${ANNOTATION_PREFIX}injected`,
  /** what uninject needs to restore, as JSON */
  undo: `${ANNOTATION_PREFIX}undo`,
  /** webhook opt-in ("true") or opt-out ("false") of one pod */
  inject: `${ANNOTATION_PREFIX}inject`,
  /** on a Service whose targetPort inject rewrote: the original ports, as JSON */
  targetPortWas: `${ANNOTATION_PREFIX}target-port-was`,
} as const

/** Settings given on the command line (or the webhook's flags), as text by flag; checked, not yet resolved. */
export type SettingTexts = ReadonlyMap<string, string>

const byFlag = new Map<string, InjectOptionSpec | OptionSpec>([...INJECT_OPTIONS, ...PASSED_OPTIONS].map((o) => [o.flag, o]))

export const isSettingFlag = (flag: string): boolean => byFlag.has(flag)

/** Checks one value with its option's parser; throws InjectError naming `source`. */
export function checkSetting(flag: string, text: string, source: string): unknown {
  const spec = byFlag.get(flag)
  if (!spec) throw new InjectError('ERR_INJECT_SETTING', `unknown setting ${source}`)
  try {
    return spec.parse(text)
  } catch (err) {
    throw new InjectError('ERR_INJECT_SETTING', `invalid ${source} ${JSON.stringify(text)}: expected ${(err as Error).message}`)
  }
}

/**
 * The settings for one pod: its drainpipe.io/* annotations over `given` (flags) over defaults.
 * An unknown drainpipe.io/ annotation is refused, so a misspelt one is not silently ignored.
 */
export function resolveSettings(given: SettingTexts, annotations: Record<string, string> | undefined, version: string): InjectSettings {
  const texts = new Map(given)
  const known = new Set<string>(Object.values(STATE_ANNOTATIONS))
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(ANNOTATION_PREFIX) || known.has(key)) continue
    const flag = key.slice(ANNOTATION_PREFIX.length)
    if (SET_BY_INJECT.has(flag))
      throw new InjectError('ERR_INJECT_SETTING', `annotation ${key}: inject sets --${flag} itself (see docs/inject.md)`)
    if (!byFlag.has(flag))
      throw new InjectError('ERR_INJECT_SETTING', `unknown annotation ${key} (the drainpipe.io/ annotations are listed in docs/inject.md)`)
    checkSetting(flag, value, `annotation ${key}`)
    texts.set(flag, value)
  }
  const pick = <T>(flag: string): T => {
    const spec = byFlag.get(flag)!
    const text = texts.get(flag) ?? spec.default
    return (text === '' ? undefined : spec.parse(text)) as T
  }
  const drainpipe = new Map<string, string>()
  for (const o of PASSED_OPTIONS) if (texts.has(o.flag)) drainpipe.set(o.flag, texts.get(o.flag)!)
  return {
    port: pick('port'),
    listenPort: pick('listen-port'),
    sidecar: pick('sidecar'),
    image: pick<string | undefined>('image') ?? `drainpipe:${version}`,
    cpuRequest: pick('cpu-request'),
    memoryRequest: pick('memory-request'),
    memoryLimit: pick('memory-limit'),
    graceMarginMs: pick('grace-margin'),
    drainpipe,
  }
}

/** The annotation table of docs/inject.md. */
export function renderAnnotationTable(): string {
  const rows = ['| annotation | `drainpipe inject` flag | default | what it does |', '| --- | --- | --- | --- |']
  const cell = (s: string) => s.replace(/\|/g, '\\|')
  for (const o of INJECT_OPTIONS) {
    const def = o.default !== '' ? `\`${o.default}\`` : (o.defaultFrom ?? 'unset')
    rows.push(`| \`${annotationOf(o.flag)}\` | \`--${o.flag} ${cell(o.placeholder)}\` | ${cell(def)} | ${cell(o.help)} |`)
  }
  for (const o of PASSED_OPTIONS) {
    const def = o.default !== '' ? `\`${o.default}\`` : o.defaultFrom ? o.defaultFrom.replace(/(\$\w+|--[\w-]+)/g, '`$1`') : 'unset'
    rows.push(
      `| \`${annotationOf(o.flag)}\` | \`--${o.flag} ${cell(o.placeholder)}\` | ${cell(def)} | drainpipe's \`--${o.flag}\` (\`${o.env}\`): ${cell(o.help)} |`,
    )
  }
  return rows.join('\n')
}
