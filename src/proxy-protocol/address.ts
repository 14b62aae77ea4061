// IP addresses between wire bytes and text. Output text is Node's canonical form (what
// net.SocketAddress and socket.remoteAddress show: RFC 5952 compression, lower case,
// IPv4-mapped and IPv4-compatible addresses with a dotted quad). Input text is parsed strictly:
// IPv4 is a dotted quad without leading zeros; IPv6 is RFC 4291 text without zone or brackets.

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`
}

export function formatIPv6(b: Uint8Array, off: number): string {
  const w = new Array<number>(8)
  for (let i = 0; i < 8; i++) w[i] = (b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!
  // Longest run of zero words (first one on ties), length >= 2.
  let bestBase = -1
  let bestLen = 0
  let curBase = -1
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && w[i] === 0) {
      if (curBase < 0) curBase = i
    } else if (curBase >= 0) {
      const len = i - curBase
      if (len > bestLen) {
        bestBase = curBase
        bestLen = len
      }
      curBase = -1
    }
  }
  if (bestLen < 2) bestBase = -1
  // Embedded IPv4: ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, not ::, ::1 or ::0.0.0.x).
  if (bestBase === 0 && ((bestLen === 5 && w[5] === 0xffff) || (bestLen === 6 && w[6] !== 0))) {
    return (bestLen === 5 ? '::ffff:' : '::') + formatIPv4(b, off + 12)
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      out += '::'
      i += bestLen - 1
      continue
    }
    if (out !== '' && !out.endsWith(':')) out += ':'
    out += w[i]!.toString(16)
  }
  return out
}

/** Strict dotted quad: four decimal octets 0-255, no leading zeros, nothing else. */
export function parseIPv4(text: string, out?: Uint8Array, off = 0): boolean {
  let part = 0
  let digits = 0
  let value = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e /* end acts as a final dot */
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false
      if (out) out[off + part] = value
      part++
      digits = 0
      value = 0
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false // leading zero
      value = value * 10 + (c - 0x30)
      if (value > 255) return false
      digits++
    } else {
      return false
    }
  }
  return part === 4
}

/** RFC 4291 text (with optional trailing dotted quad) into 16 bytes; false if invalid. */
export function parseIPv6(text: string, out: Uint8Array = new Uint8Array(16), off = 0): boolean {
  if (text.length < 2 || text.length > 45) return false
  const words: number[] = []
  let gap = -1
  let i = 0
  if (text.startsWith('::')) {
    gap = 0
    i = 2
    if (i === text.length) return fill(words, gap, out, off)
  } else if (text.charCodeAt(0) === 0x3a) {
    return false
  }
  while (i < text.length) {
    // One group: up to 4 hex digits, or a dotted quad at the end.
    let j = i
    let v = 0
    while (j < text.length && j - i < 5) {
      const c = text.charCodeAt(j)
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1
      if (d < 0) break
      v = (v << 4) | d
      j++
    }
    if (j < text.length && text.charCodeAt(j) === 0x2e) {
      // Trailing IPv4: must be the last group and leave room for two words.
      if (words.length > 6) return false
      const quad = new Uint8Array(4)
      if (!parseIPv4(text.slice(i), quad)) return false
      words.push((quad[0]! << 8) | quad[1]!, (quad[2]! << 8) | quad[3]!)
      return fill(words, gap, out, off)
    }
    if (j === i || j - i > 4) return false
    words.push(v)
    if (words.length > 8) return false
    if (j === text.length) break
    if (text.charCodeAt(j) !== 0x3a) return false
    j++
    if (j < text.length && text.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return false // a second '::'
      gap = words.length
      j++
      if (j === text.length) break
    } else if (j === text.length) {
      return false // trailing single ':'
    }
    i = j
  }
  return fill(words, gap, out, off)
}

function fill(words: number[], gap: number, out: Uint8Array, off: number): boolean {
  if (gap < 0 ? words.length !== 8 : words.length > 7) return false
  const zeros = 8 - words.length
  let k = 0
  for (let w = 0; w < 8; w++) {
    let v = 0
    if (gap >= 0 && w >= gap && w < gap + zeros) v = 0
    else v = words[k++]!
    out[off + 2 * w] = v >> 8
    out[off + 2 * w + 1] = v & 0xff
  }
  return true
}

/** The canonical text of an IP address given as text, or null if it is not strict IPv4/IPv6 text. */
export function canonicalIP(text: string): { address: string; family: 4 | 6 } | null {
  if (parseIPv4(text)) return { address: text, family: 4 }
  const b = new Uint8Array(16)
  if (parseIPv6(text, b)) return { address: formatIPv6(b, 0), family: 6 }
  return null
}

const MAPPED_PREFIX = '::ffff:'

/**
 * ::ffff:10.0.0.1 → 10.0.0.1: a dual-stack socket's view of an IPv4 peer is that IPv4 peer.
 * The one place such addresses are normalised; anything else is returned as it is.
 */
export function unmapped(address: string): string {
  return address.length > MAPPED_PREFIX.length &&
    address.slice(0, MAPPED_PREFIX.length).toLowerCase() === MAPPED_PREFIX &&
    address.includes('.')
    ? address.slice(MAPPED_PREFIX.length)
    : address
}
