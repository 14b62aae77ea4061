// The fast lane in the running sidecar: the lane (whether health checks fail from termination
// start), its start-up safety check, and the dedicated health-check port (--health-check-listen),
// following the lifecycle: engaged at terminating (the port closes in fail mode), the port closed
// at draining otherwise, released and reopened when a container restart makes the pod ready again.
import type { AddressInfo } from 'node:net'
import { podPorts, type Config } from '../../config.js'
import type { Logger } from '../../log.js'
import type { Lifecycle } from '../state.js'
import { HealthListener } from '../../ingress/health-listener.js'
import { FastLane } from './lane.js'
import { SafetyCheck } from './safety-check.js'

export interface FastLaneWiring {
  readonly lane: FastLane
  /** Health checks pass: serving, and the lane has not engaged. */
  passing(): boolean
  /** Open the health-check port, if one is configured. */
  listen(): Promise<AddressInfo | undefined>
  /** Start the safety check (after the pod is up). */
  checkAtStartup(maxDelayMs: number): void
  view(): Record<string, unknown>
  stop(): void
}

export function wireFastLane(config: Config, lifecycle: Lifecycle, logger: Logger, serving: () => boolean): FastLaneWiring {
  const log = logger.child({ component: 'fast-lane' })
  const check =
    config.healthCheckOnTerminate === 'fail'
      ? new SafetyCheck({
          // Every pod port's target groups: failing checks must be safe on each.
          targetGroupArns: [...new Set(podPorts(config).flatMap((p) => p.targetGroupArns))],
          ...(config.awsRegion ? { region: config.awsRegion } : {}),
          ...(config.elbv2Endpoint ? { endpoint: config.elbv2Endpoint } : {}),
          needs: { unhealthyLagMs: config.lbUnhealthyLagMaxMs, drainTimeoutMs: config.drainTimeoutMs },
          logger: log,
        })
      : undefined
  const lane = new FastLane({
    requested: config.healthCheckOnTerminate,
    unhealthyLagMs: config.lbUnhealthyLagMaxMs,
    lagMs: config.lbLagMaxMs,
    ...(check ? { check } : {}),
    logger: log,
  })
  const passing = () => serving() && !lane.failing
  const listener = config.healthCheckListen ? new HealthListener(config.healthCheckListen, passing) : undefined
  const listenerView = () => (listener ? { healthCheckListen: listener.view() } : {})

  lifecycle.onChange((state) => {
    if (state === 'terminating') {
      // Before the lag clock starts (shutdown.ts): it asks the lane which bound applies.
      lane.engage()
      if (lane.failing) {
        listener?.close()
        logger.info(
          { fastLane: lane.view(), ...listenerView() },
          `fast lane: health checks fail from now on (HTTP checks get 503${listener ? ', the health-check port is closed' : ''}); client traffic is still served`,
        )
      }
    } else if (state === 'draining') {
      if (listener?.listening) {
        listener.close()
        logger.info(listenerView(), 'health-check port closed: draining')
      }
    } else if (state === 'ready') {
      lane.release()
      if (listener && !listener.listening)
        void listener.listen().catch((err: Error) => logger.error({ err }, 'could not reopen the health-check port'))
    }
  })

  return {
    lane,
    passing,
    listen: () => (listener ? listener.listen() : Promise.resolve(undefined)),
    checkAtStartup: (maxDelayMs) => check?.start(maxDelayMs),
    view: () => ({ ...lane.view(), ...listenerView() }),
    stop: () => {
      check?.stop()
      listener?.close()
    },
  }
}
