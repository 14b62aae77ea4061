// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8. The v2 CRC32C TLV
// checksums the whole header with its own 4 value bytes taken as zero.
// `seed` chains: crc32c(b, crc32c(a)) === crc32c(a ++ b).

const TABLES = buildTables()

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[k * 256 + n] = c >>> 0
    }
  }
  return t
}

export function crc32c(buf: Uint8Array, seed = 0): number {
  return crc32cRange(buf, 0, buf.length, seed)
}

/** CRC32C of buf[start, end), chained from `seed`. */
export function crc32cRange(buf: Uint8Array, start: number, end: number, seed = 0): number {
  const t = TABLES
  let crc = ~seed
  let i = start
  const len = end
  const end8 = len - ((len - start) & 7)
  while (i < end8) {
    const lo = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    const b4 = buf[i + 4]!
    const b5 = buf[i + 5]!
    const b6 = buf[i + 6]!
    const b7 = buf[i + 7]!
    crc =
      t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + b4]! ^
      t[2 * 256 + b5]! ^
      t[256 + b6]! ^
      t[b7]!
    i += 8
  }
  while (i < len) {
    crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8)
    i++
  }
  return ~crc >>> 0
}

const ZERO4 = new Uint8Array(4)

/** CRC32C of buf[start, end) with the 4 bytes at `zeroAt` taken as zero, without copying. */
export function crc32cWithZeroedField(buf: Uint8Array, start: number, end: number, zeroAt: number): number {
  let c = crc32cRange(buf, start, zeroAt)
  c = crc32cRange(ZERO4, 0, 4, c)
  return crc32cRange(buf, zeroAt + 4, end, c)
}
