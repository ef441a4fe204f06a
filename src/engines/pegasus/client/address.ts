/**
 * Pegasus node addresses: rpc_address fields carry an IPv4 `ip:port`, host_port fields the
 * `host:port` as configured. Requests fill both, as the meta and the shell do.
 */
import {lookup} from 'node:dns/promises'

const IPV4_ADDRESS = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$/

/** True for an IPv4 `ip:port`, which can travel in an rpc_address field as it is. */
export function isIpv4Address(node: string): boolean {
  return IPV4_ADDRESS.test(node)
}

/** Resolves `host:port` to `ip:port` (IPv4), as the meta's DNS resolver does before it calls a node; null when it does not resolve. */
export async function resolveIpv4(node: string): Promise<string | null> {
  if (isIpv4Address(node)) return node
  const i = node.lastIndexOf(':')
  try {
    const {address} = await lookup(node.slice(0, i), {family: 4})
    return `${address}:${node.slice(i + 1)}`
  } catch {
    return null
  }
}
