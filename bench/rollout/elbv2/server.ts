// The ELBv2 Query API over HTTP: `POST /` with a form body, `Action=…&Version=2015-12-01`.
// Answers in AWS's XML; errors in AWS's envelope with HTTP 400; throttles every call
// against account-wide token buckets (Describe* and mutating calls separately).
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { renderError, renderResponse, type XmlNode } from './xml.js'
import { memberList, scalarList } from './query-params.js'
import type { TargetGroup } from './target-group.js'
import type { TokenBucket } from './token-bucket.js'

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message)
  }
}

/** An error every call naming a target group answers with (tests: a missing permission). */
export interface ForcedError {
  code: string
  message: string
  status: number
}

export interface Account {
  groups: Map<string, TargetGroup>
  /** Per target group ARN: answer calls naming it with this error instead. */
  failures: Map<string, ForcedError>
  describeBucket: TokenBucket
  mutateBucket: TokenBucket
  calls: Record<string, number>
  throttled: Record<string, number>
}

type Handler = (params: URLSearchParams, account: Account) => XmlNode | undefined

const MAX_BODY = 1024 * 1024

export function createElbv2Server(account: Account): http.Server {
  return http.createServer((req, res) => {
    const requestId = randomUUID()
    const send = (status: number, xml: string): void => {
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(xml) })
      res.end(xml)
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on('end', () => {
      if (size > MAX_BODY) return send(413, renderError('RequestEntityTooLarge', 'Request body too large', requestId))
      const url = new URL(req.url ?? '/', 'http://elbv2')
      // The Query protocol accepts parameters in the query string (GET) or the form body (POST).
      const params = new URLSearchParams(req.method === 'POST' ? Buffer.concat(chunks).toString('utf8') : url.search)
      const action = params.get('Action') ?? ''
      try {
        const xml = handle(action, params, account, requestId)
        send(200, xml)
      } catch (err) {
        if (err instanceof ApiError) return send(err.status, renderError(err.code, err.message, requestId, err.type))
        send(500, renderError('InternalFailure', String(err), requestId, 'Receiver'))
      }
    })
  })
}

function handle(action: string, params: URLSearchParams, account: Account, requestId: string): string {
  const handler = HANDLERS[action]
  if (handler === undefined) {
    if (action === '') throw new ApiError('MissingAction', 'Missing required parameter Action')
    throw new ApiError('InvalidAction', `Could not find operation ${action} for version 2015-12-01`)
  }
  const version = params.get('Version')
  if (version !== '2015-12-01') throw new ApiError('InvalidParameterValue', `Unsupported Version: ${version ?? '(missing)'}`)
  account.calls[action] = (account.calls[action] ?? 0) + 1
  const bucket = action.startsWith('Describe') ? account.describeBucket : account.mutateBucket
  if (!bucket.take()) {
    account.throttled[action] = (account.throttled[action] ?? 0) + 1
    throw new ApiError('Throttling', 'Rate exceeded')
  }
  return renderResponse(action, handler(params, account), requestId)
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name)
  if (value === null || value === '')
    throw new ApiError(
      'ValidationError',
      `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
    )
  return value
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1)
}

function group(params: URLSearchParams, account: Account): TargetGroup {
  const arn = required(params, 'TargetGroupArn')
  const forced = account.failures.get(arn)
  if (forced !== undefined) throw new ApiError(forced.code, forced.message, forced.status)
  const tg = account.groups.get(arn)
  if (tg === undefined) throw new ApiError('TargetGroupNotFound', `Target groups '${arn}' not found`)
  return tg
}

function targets(params: URLSearchParams, tg: TargetGroup, mustHaveOne: boolean): Array<{ id: string; port: number }> {
  const list = memberList(params, 'Targets').map((m) => {
    const id = m.Id
    if (id === undefined || id === '') throw new ApiError('ValidationError', 'Target Id must be specified')
    const port = m.Port === undefined ? tg.port : Number(m.Port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ApiError('ValidationError', `Invalid port '${m.Port}'`)
    return { id, port }
  })
  if (mustHaveOne && list.length === 0)
    throw new ApiError(
      'ValidationError',
      "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null",
    )
  return list
}

function describeGroup(tg: TargetGroup): XmlNode {
  const hc = tg.healthCheck
  return {
    TargetGroupArn: tg.arn,
    TargetGroupName: tg.name,
    Protocol: 'TCP',
    Port: tg.port,
    VpcId: 'vpc-00000000000000000',
    HealthCheckProtocol: hc.protocol,
    HealthCheckPort: hc.port,
    HealthCheckEnabled: true,
    HealthCheckIntervalSeconds: hc.intervalSeconds,
    HealthCheckTimeoutSeconds: hc.timeoutSeconds,
    HealthyThresholdCount: hc.healthyThreshold,
    UnhealthyThresholdCount: hc.unhealthyThreshold,
    HealthCheckPath: hc.protocol === 'HTTP' ? hc.path : undefined,
    LoadBalancerArns: [],
    TargetType: 'ip',
    IpAddressType: 'ipv4',
  }
}

function attributesNode(tg: TargetGroup): XmlNode {
  return { Attributes: [...tg.attributes].map(([Key, Value]) => ({ Key, Value })) }
}

const HANDLERS: Record<string, Handler> = {
  DescribeTargetHealth(params, account) {
    const tg = group(params, account)
    const asked = targets(params, tg, false)
    const at = Date.now() - tg.consistencyLagMs
    const rows = asked.length > 0 ? asked.map((t) => ({ ...t, health: tg.healthAt(t.id, t.port, at) })) : tg.visibleTargets(at)
    return {
      TargetHealthDescriptions: rows.map((row) => ({
        Target: { Id: row.id, Port: row.port },
        HealthCheckPort: String(tg.healthCheck.port === 'traffic-port' ? row.port : tg.healthCheck.port),
        TargetHealth: { State: row.health.state, Reason: row.health.reason, Description: row.health.description },
      })),
    }
  },
  RegisterTargets(params, account) {
    const tg = group(params, account)
    for (const t of targets(params, tg, true)) tg.register(t.id, t.port)
    return undefined
  },
  DeregisterTargets(params, account) {
    const tg = group(params, account)
    for (const t of targets(params, tg, true)) tg.deregister(t.id, t.port)
    return undefined
  },
  DescribeTargetGroups(params, account) {
    const arns = scalarList(params, 'TargetGroupArns')
    const names = scalarList(params, 'Names')
    let list = [...account.groups.values()]
    if (arns.length > 0) {
      const missing = arns.filter((a) => !account.groups.has(a))
      if (missing.length > 0) throw new ApiError('TargetGroupNotFound', `Target groups '${missing.join("', '")}' not found`)
      list = list.filter((g) => arns.includes(g.arn))
    }
    if (names.length > 0) {
      const missing = names.filter((n) => !list.some((g) => g.name === n))
      if (missing.length > 0) throw new ApiError('TargetGroupNotFound', `One or more target groups not found`)
      list = list.filter((g) => names.includes(g.name))
    }
    return { TargetGroups: list.map(describeGroup) }
  },
  DescribeTargetGroupAttributes(params, account) {
    return attributesNode(group(params, account))
  },
  ModifyTargetGroupAttributes(params, account) {
    const tg = group(params, account)
    const changes = memberList(params, 'Attributes')
    if (changes.length === 0)
      throw new ApiError(
        'ValidationError',
        "1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null",
      )
    for (const { Key, Value } of changes) {
      if (Key === undefined || !tg.attributes.has(Key))
        throw new ApiError('ValidationError', `Target group attribute key '${Key ?? ''}' is not recognized`)
      tg.attributes.set(Key, Value ?? '')
    }
    return attributesNode(tg)
  },
}

export const SUPPORTED_ACTIONS = Object.keys(HANDLERS)
