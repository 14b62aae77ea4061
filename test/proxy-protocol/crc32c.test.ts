// CRC32C: the published check value, RFC 3720 test vectors, chaining, and slicing-by-8
// against a bit-at-a-time reference on every length and alignment around the 8-byte stride.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { crc32c } from '../../src/proxy-protocol/index.js'

function reference(buf: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of buf) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

t.test('known values', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'check value')
  t.equal(crc32c(Buffer.alloc(0)), 0)
  // RFC 3720 B.4
  t.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa, '32 zero bytes')
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, '32 0xff bytes')
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e, '0..31')
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c, '31..0')
})

t.test('slicing-by-8 equals the bitwise reference; seed chains', async (t) => {
  const data = randomBytes(300)
  for (let start = 0; start < 9; start++) {
    for (let len = 0; len <= 40; len++) {
      const view = data.subarray(start, start + len)
      if (crc32c(view) !== reference(view)) t.fail(`start ${start} len ${len}`)
    }
  }
  t.equal(crc32c(data), reference(data))
  for (const cut of [0, 1, 7, 8, 9, 150, 299, 300]) {
    t.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data), `chained at ${cut}`)
  }
})
