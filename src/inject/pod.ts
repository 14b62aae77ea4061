// inject and uninject of one pod template (a Pod's metadata+spec, or a workload's template).
// Re-injecting first undoes the previous injection (keeping its token), so injecting twice changes
// nothing and a newer drainpipe rewrites its own container from the same original.
import { ConfigError, OPTIONS, parseConfig, type HostPort } from '../config.js'
import { drainpipeContainer, drainpipeOptions, DRAINPIPE_CONTAINER, lbPort, lbPortOwner } from './container.js'
import { InjectError } from '../errors.js'
import { gracePeriodToWrite } from '../lifecycle/grace-budget.js'
import { prestopHook, restoreAppPreStop, setAppPreStop } from './hooks.js'
import type { JsonObject } from './json-patch.js'
import { annotationOf, resolveSettings, STATE_ANNOTATIONS, type SettingTexts } from './options.js'
import { allContainers, annotationsOf, portsOf, setAnnotation, type Container, type PodTemplate } from './pod-spec.js'
import { planTakeover, type Takeover } from './ports.js'
import { restoreProbes, retargetProbes } from './probes.js'
import { tokenOf } from './token.js'

export interface PodContext {
  /** names the object in messages: `Deployment web (input.yaml #2)` */
  what: string
  /** settings from the command line (or the webhook's configuration) */
  given: SettingTexts
  version: string
  /** a Job's pods (Job, CronJob, or a Pod that does not restart): classic sidecars never end */
  job: boolean
  note(line: string): void
  newToken(): string
}

/** What uninject needs to put back, stored as JSON in the drainpipe.io/undo annotation. */
interface Undo {
  container: string
  port: number
  name?: string
  probes: string[]
  preStop?: JsonObject
  grace: number | null
  /** the LB-facing port inject declared on the app container (native sidecars) */
  lbPort?: { name: string; containerPort: number }
}

const optionDefault = (flag: string) => OPTIONS.find((o) => o.flag === flag)!
const parsed = <T>(flag: string, text: string | undefined): T => {
  const o = optionDefault(flag)
  return o.parse(text ?? o.default) as T
}

export const isInjected = (tpl: PodTemplate): boolean => annotationsOf(tpl)[STATE_ANNOTATIONS.undo] !== undefined

export function injectPod(input: PodTemplate, ctx: PodContext): { tpl: PodTemplate; takeover: Takeover } {
  let tpl = structuredClone(input)
  let token: string | undefined
  const again = isInjected(tpl)
  // Re-injection: what changes was reported when it was first injected.
  const note = again ? () => {} : ctx.note
  if (again) {
    const existing = allContainers(tpl.spec).find((c) => c.name === DRAINPIPE_CONTAINER)
    token = existing ? tokenOf(existing) : undefined
    tpl = uninjectPod(tpl, ctx.what)
  } else if (allContainers(tpl.spec).some((c) => c.name === DRAINPIPE_CONTAINER)) {
    throw new InjectError(
      'ERR_INJECT_FOREIGN',
      `${ctx.what}: already has a container named ${DRAINPIPE_CONTAINER} that inject did not add (no ${STATE_ANNOTATIONS.undo} annotation); remove it to let inject manage drainpipe, or keep maintaining it by hand`,
    )
  }
  const settings = resolveSettings(ctx.given, annotationsOf(tpl), ctx.version)
  const native = settings.sidecar === 'native'
  if (!native && ctx.job) {
    throw new InjectError(
      'ERR_INJECT_PLACEMENT',
      `${ctx.what}: a classic sidecar keeps running after the job's container ends, so the Job never completes; use drainpipe.io/sidecar: native (Kubernetes >= 1.29)`,
    )
  }
  const spec = tpl.spec
  if (spec.hostNetwork === true) {
    throw new InjectError(
      'ERR_INJECT_PLACEMENT',
      `${ctx.what}: hostNetwork pods share the node's ports, and load balancers in IP target mode do not reach them by pod IP; drainpipe is not for them`,
    )
  }
  const admin = parsed<HostPort>('admin', settings.drainpipe.get('admin'))
  const takeover = planTakeover(spec, settings.port, settings.listenPort, admin.port, ctx.what)
  const { app, port } = takeover
  if (takeover.appName !== undefined) port.name = takeover.appName
  const probes = takeover.name !== undefined ? retargetProbes(app, takeover.name, takeover.appPort) : []
  token ??= ctx.newToken()
  const preStop = setAppPreStop(app, prestopHook(admin.port, token), ctx.what, note)

  const before = typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : undefined
  const maxWaitMs = parsed<number>('max-wait', settings.drainpipe.get('max-wait'))
  const drainTimeoutMs = parsed<number>('drain-timeout', settings.drainpipe.get('drain-timeout'))
  const grace = gracePeriodToWrite({ currentS: before, maxWaitMs, drainTimeoutMs, marginMs: settings.graceMarginMs })
  if (grace !== before)
    note(
      `${ctx.what}: terminationGracePeriodSeconds ${before ?? '(default 30)'} -> ${grace}: --max-wait ${maxWaitMs / 1000} s + --drain-timeout ${drainTimeoutMs / 1000} s + margin ${settings.graceMarginMs / 1000} s`,
    )
  spec.terminationGracePeriodSeconds = grace

  const options = drainpipeOptions(settings, takeover, grace)
  checkWithConfigParser(options, token, ctx.what)
  const container = drainpipeContainer({ settings, takeover, adminPort: admin.port, options, token }, native)
  if (lbPortOwner(native) === 'app') {
    const ports = portsOf(app)
    ports.splice(ports.indexOf(port) + 1, 0, lbPort(takeover))
  }
  if (native) spec.initContainers = [...(Array.isArray(spec.initContainers) ? (spec.initContainers as Container[]) : []), container]
  else spec.containers.push(container)

  const undo: Undo = { container: app.name, port: takeover.appPort, probes, grace: before ?? null }
  if (takeover.name !== undefined) undo.name = takeover.name
  if (preStop) undo.preStop = preStop
  if (lbPortOwner(native) === 'app') undo.lbPort = { name: takeover.listenName, containerPort: takeover.listenPort }
  setAnnotation(tpl, STATE_ANNOTATIONS.injected, ctx.version)
  setAnnotation(tpl, STATE_ANNOTATIONS.undo, JSON.stringify(undo))
  return { tpl, takeover }
}

/** drainpipe must start with what it is given: run the real parser over the container's environment. */
function checkWithConfigParser(options: ReadonlyMap<string, string>, token: string, what: string): void {
  const env: Record<string, string> = { POD_IP: '10.0.0.1', DRAINPIPE_ADMIN_TOKEN: token }
  for (const [flag, text] of options) env[optionDefault(flag).env] = text
  try {
    parseConfig([], env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const hint =
      err.flag && !['listen', 'upstream', 'grace-period'].includes(err.flag) ? ` (set with the annotation ${annotationOf(err.flag)})` : ''
    throw new InjectError('ERR_INJECT_SETTING', `${what}: drainpipe would refuse this configuration: ${err.message}${hint}`)
  }
}

/** The inverse of injectPod; a template inject did not touch comes back unchanged. */
export function uninjectPod(input: PodTemplate, what: string): PodTemplate {
  if (!isInjected(input)) return input
  const tpl = structuredClone(input)
  let undo: Undo
  try {
    undo = JSON.parse(annotationsOf(tpl)[STATE_ANNOTATIONS.undo]!) as Undo
  } catch {
    throw new InjectError(
      'ERR_INJECT_INPUT',
      `${what}: annotation ${STATE_ANNOTATIONS.undo} is not the JSON inject wrote; remove drainpipe by hand`,
    )
  }
  const spec = tpl.spec
  spec.containers = spec.containers.filter((c) => c.name !== DRAINPIPE_CONTAINER)
  if (Array.isArray(spec.initContainers)) {
    const init = (spec.initContainers as Container[]).filter((c) => c.name !== DRAINPIPE_CONTAINER)
    if (init.length > 0) spec.initContainers = init
    else delete spec.initContainers
  }
  const app = spec.containers.find((c) => c.name === undo.container)
  if (!app)
    throw new InjectError(
      'ERR_INJECT_INPUT',
      `${what}: container ${undo.container}, which inject changed, is gone; remove drainpipe by hand`,
    )
  if (undo.lbPort) {
    const declared = portsOf(app).findIndex((p) => p.name === undo.lbPort!.name && p.containerPort === undo.lbPort!.containerPort)
    if (declared !== -1) portsOf(app).splice(declared, 1)
  }
  const port = portsOf(app).find((p) => p.containerPort === undo.port)
  if (port && undo.name !== undefined) port.name = undo.name
  if (undo.name !== undefined) restoreProbes(app, undo.probes, undo.name)
  restoreAppPreStop(app, undo.preStop)
  if (undo.grace === null) delete spec.terminationGracePeriodSeconds
  else spec.terminationGracePeriodSeconds = undo.grace
  setAnnotation(tpl, STATE_ANNOTATIONS.injected, undefined)
  setAnnotation(tpl, STATE_ANNOTATIONS.undo, undefined)
  return tpl
}
