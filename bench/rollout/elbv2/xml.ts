// The ELBv2 Query API's XML, as AWS sends it: `<ActionResponse xmlns=…><ActionResult>…`
// then `<ResponseMetadata><RequestId>`; errors in `<ErrorResponse><Error><Type>…`.
export const ELBV2_XMLNS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/'

export type XmlValue = string | number | boolean | undefined | null | XmlNode | XmlValue[]
export interface XmlNode {
  [element: string]: XmlValue
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

/** Render `{ A: 'x', B: [{ C: 1 }, { C: 2 }] }` as `<A>x</A><B><member><C>1</C></member>…</B>`. */
export function renderXml(node: XmlNode): string {
  let out = ''
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined || value === null) continue
    out += `<${name}>${renderValue(value)}</${name}>`
  }
  return out
}

function renderValue(value: XmlValue): string {
  if (Array.isArray(value)) return value.map((member) => `<member>${renderValue(member)}</member>`).join('')
  if (typeof value === 'object' && value !== null) return renderXml(value)
  return escapeXml(String(value))
}

export function renderResponse(action: string, result: XmlNode | undefined, requestId: string): string {
  const body = result === undefined ? `<${action}Result/>` : `<${action}Result>${renderXml(result)}</${action}Result>`
  return (
    `<${action}Response xmlns="${ELBV2_XMLNS}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  )
}

export function renderError(code: string, message: string, requestId: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return (
    `<ErrorResponse><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  )
}
