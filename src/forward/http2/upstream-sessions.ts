// --upstream-protocol h2c: HTTP/2 sessions to the app, shared by every client stream. A
// stream goes on the first session that is connected or connecting, has not been told to go
// away and has room under the app's SETTINGS_MAX_CONCURRENT_STREAMS; otherwise a new session
// is opened. A session the app closes, resets or sends GOAWAY on takes no new streams (those
// in flight finish on it), so an app that restarts is reconnected on the next stream.
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2'
import type { HostPort } from '../../config.js'
import { connectToApp } from '../app-connection.js'
import { loadHttp2 } from '../../builtins.js'

/** Connection-level receive window of a session to the app: 1024 streams' default windows. */
export const UPSTREAM_CONNECTION_WINDOW = 1024 * 65_535

interface Entry {
  readonly session: ClientHttp2Session
  streams: number
  usable: boolean
}

export class UpstreamSessions {
  readonly #upstream: HostPort
  readonly #connectTimeoutMs: number
  readonly #authority: string
  #entries: Entry[] = []
  #closed = false

  constructor(upstream: HostPort, connectTimeoutMs: number) {
    this.#upstream = upstream
    this.#connectTimeoutMs = connectTimeoutMs
    this.#authority = `http://${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`
  }

  /** Sessions open to the app (connected or connecting). */
  get size(): number {
    return this.#entries.length
  }

  /**
   * A new stream to the app. Throws (synchronously, on some Node lines) only when a session
   * went away between the choice and the request; errors after that arrive on the stream.
   */
  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    const entry = this.#pick()
    const stream = entry.session.request(headers, { endStream, waitForTrailers: !endStream })
    entry.streams++
    stream.once('close', () => {
      entry.streams--
    })
    return stream
  }

  #pick(): Entry {
    for (const e of this.#entries) {
      if (!e.usable) continue
      const max = e.session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY
      if (e.streams < max) return e
    }
    return this.#open()
  }

  #open(): Entry {
    const http2 = loadHttp2()
    const session = http2.connect(this.#authority, {
      createConnection: () => connectToApp(this.#upstream, this.#connectTimeoutMs),
      settings: { enablePush: false },
    })
    // Each stream keeps the default 64 KiB window (what one slow client can leave buffered
    // here); the connection's window is wide enough that streams whose clients stopped
    // reading never hold it all, which would stall every other stream on this session.
    session.once('connect', () => session.setLocalWindowSize(UPSTREAM_CONNECTION_WINDOW))
    const entry: Entry = { session, streams: 0, usable: true }
    const retire = () => {
      entry.usable = false
    }
    const remove = () => {
      retire()
      const i = this.#entries.indexOf(entry)
      if (i !== -1) this.#entries.splice(i, 1)
    }
    session.on('goaway', retire)
    session.on('error', retire) // the streams on it see the error themselves
    session.on('close', remove)
    // An idle session does not keep drainpipe's process alive.
    session.unref()
    this.#entries.push(entry)
    return entry
  }

  /** Close every session (in-flight streams are reset). */
  close(): void {
    this.#closed = true
    for (const e of this.#entries) e.session.destroy()
    this.#entries = []
  }

  get closed(): boolean {
    return this.#closed
  }
}
