// Reading the Query protocol's flattened lists: `Targets.member.1.Id=…&Targets.member.1.Port=…`.
export function memberList(params: URLSearchParams, prefix: string): Array<Record<string, string>> {
  const members = new Map<number, Record<string, string>>()
  const head = `${prefix}.member.`
  for (const [key, value] of params) {
    if (!key.startsWith(head)) continue
    const rest = key.slice(head.length)
    const dot = rest.indexOf('.')
    const index = Number(dot === -1 ? rest : rest.slice(0, dot))
    if (!Number.isInteger(index) || index < 1) continue
    const field = dot === -1 ? '' : rest.slice(dot + 1)
    let member = members.get(index)
    if (member === undefined) {
      member = {}
      members.set(index, member)
    }
    member[field] = value
  }
  return [...members.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m)
}

/** `Names.member.1=a&Names.member.2=b` → ['a', 'b'] */
export function scalarList(params: URLSearchParams, prefix: string): string[] {
  return memberList(params, prefix)
    .map((m) => m[''] ?? '')
    .filter((v) => v !== '')
}
