// A real gRPC service for the HTTP/2 tests (@grpc/grpc-js): test/http2/fixtures/echo.proto,
// served by an app that says who it is and which client address it saw (X-Forwarded-For),
// and a client with the few helpers the tests need.
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Msg {
  text: string
  seq: number
  servedBy?: string
  client?: string
  delayMs?: number
}

type EchoClient = grpc.Client & {
  Unary(req: Msg, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void): grpc.ClientUnaryCall
  Chat(opts?: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>
}

const PROTO = fileURLToPath(new URL('../http2/fixtures/echo.proto', import.meta.url))
const definition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true })
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  drainpipe: { test: { Echo: grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition } } }
}
const Echo = pkg.drainpipe.test.Echo

/** The Echo app on 127.0.0.1 (h2c), named `name`; shut down in teardown. */
export async function startGrpcApp(t: Teardown, name: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server()
  const client = (md: grpc.Metadata) => String(md.get('x-forwarded-for')[0] ?? '')
  server.addService(Echo.service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const reply = { ...call.request, servedBy: name, client: client(call.metadata) }
      setTimeout(() => cb(null, reply), call.request.delayMs ?? 0)
    },
    Chat(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => call.write({ ...m, servedBy: name, client: client(call.metadata) }))
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  )
  t.teardown(() => server.forceShutdown())
  return { port, server }
}

/** A client channel to 127.0.0.1:`port`; closed in teardown. */
export function grpcClient(t: Teardown, port: number, options: grpc.ChannelOptions = {}): EchoClient {
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as EchoClient
  t.teardown(() => client.close())
  return client
}

export function unary(client: EchoClient, req: Msg, timeoutMs = 10_000): Promise<Msg> {
  return new Promise((resolve, reject) =>
    client.Unary(req, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  )
}

export { grpc }
