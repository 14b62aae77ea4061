// One direction of a forwarded tcp connection: what `from` reads is written to `to`, with
// backpressure (a write the kernel cannot take at once pauses the reader until `to` drains),
// and `from`'s FIN ends `to`'s writing side (half-close: the other direction carries on).
// Readable.pipe() does the same with seven listeners per direction, a 'pipe' event and an
// unpipe that removes them all again at the end; on a new connection per request that setup
// and teardown was ~4% of drainpipe's CPU in the profile (docs/performance.md, "CPU per request").
// Errors and close are the forwarder's: it destroys both sockets when either fails.
import type { Socket } from 'node:net'

export function relay(from: Socket, to: Socket): void {
  const resume = () => from.resume()
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause()
      to.once('drain', resume)
    }
  })
  from.once('end', () => to.end())
}
