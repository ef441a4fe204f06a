/**
 * `host:port` as the stores write it: an IPv4 address or a host name, and a port 1-65535.
 *
 * Pegasus's rpc_address is IPv4 only and its host_port a DNS name, so IPv6 literals are refused
 * with a message rather than half-supported.
 */

/** A parsed endpoint; `key` is the normalised form used to find duplicates (`10.0.0.1:080` = `10.0.0.1:80`). */
export interface HostPort {
  host: string
  port: number
  key: string
}

export type HostPortResult = {ok: true; value: HostPort} | {ok: false; message: string; hint?: string}

const IPV4_LIKE = /^[0-9.]+$/
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** Why `host` is not an IPv4 address or a host name, or undefined when it is one. */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty'
  if (IPV4_LIKE.test(host)) {
    const parts = host.split('.')
    if (parts.length !== 4) return `"${host}" is not an IPv4 address (it needs four numbers)`
    for (const p of parts) {
      if (p === '' || p.length > 3 || (p.length > 1 && p.startsWith('0')) || Number(p) > 255) {
        return `"${host}" is not an IPv4 address ("${p}" is not a number 0-255)`
      }
    }
    return undefined
  }
  if (host.length > 253) return 'the host name is longer than 253 characters'
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.')
  for (const label of labels) {
    if (!LABEL.test(label)) return `"${host}" is not a valid host name`
  }
  return undefined
}

/** Parses `host:port`; the message says exactly what is wrong. */
export function parseHostPort(text: string): HostPortResult {
  if (text.trim() !== text || /\s/.test(text)) {
    return {ok: false, message: `"${text}" contains whitespace`, hint: 'write host:port with no spaces'}
  }
  if (text.startsWith('[') || (text.match(/:/g)?.length ?? 0) > 1) {
    return {
      ok: false,
      message: `"${text}" looks like an IPv6 address, which is not supported`,
      hint: 'use an IPv4 address or a host name',
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return {ok: false, message: `"${text}" is a URL, not host:port`, hint: 'drop the scheme and any path'}
  }
  const colon = text.lastIndexOf(':')
  if (colon < 0) return {ok: false, message: `"${text}" has no port`, hint: 'write host:port, e.g. 10.0.0.1:34801'}
  const host = text.slice(0, colon)
  const portText = text.slice(colon + 1)
  const problem = hostProblem(host)
  if (problem) return {ok: false, message: problem, hint: 'the host must be an IPv4 address or a host name'}
  if (!/^[0-9]{1,5}$/.test(portText)) {
    return {
      ok: false,
      message: portText === '' ? `"${text}" has an empty port` : `port "${portText}" is not a number 1-65535`,
    }
  }
  const port = Number(portText)
  if (port < 1 || port > 65535) return {ok: false, message: `port ${port} is out of range 1-65535`}
  return {ok: true, value: {host, port, key: `${host.toLowerCase()}:${port}`}}
}

/**
 * An endpoint that may carry an `http://` or `https://` scheme (PD), e.g. `http://pd1:2379`.
 * Paths, query strings and credentials are refused: the tool adds its own paths.
 */
export function parseEndpoint(text: string): HostPortResult {
  const m = /^(https?):\/\/(.*)$/i.exec(text)
  if (!m) return parseHostPort(text)
  const rest = (m[2] ?? '').replace(/\/$/, '')
  if (rest.includes('/') || rest.includes('?') || rest.includes('@')) {
    return {ok: false, message: `"${text}" carries a path, query or credentials`, hint: 'write scheme://host:port only'}
  }
  const r = parseHostPort(rest)
  if (!r.ok) return r
  return {ok: true, value: {...r.value, key: `${(m[1] ?? 'http').toLowerCase()}://${r.value.key}`}}
}
