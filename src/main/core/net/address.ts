import { isIP } from 'node:net'

/** One spelling per address: `localhost` is 127.0.0.1, an IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`) its IPv4 form. */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (lower === 'localhost') return '127.0.0.1'
  const mapped = /^::ffff:([0-9.]+)$/.exec(lower)
  return mapped && isIP(mapped[1]) === 4 ? mapped[1] : lower
}

/** This machine, over loopback only: what Switchboard binds to and aims at unless the operator says otherwise. */
export function isLoopback(host: string): boolean {
  const canonical = canonicalHost(host)
  return (isIP(canonical) === 4 && canonical.startsWith('127.')) || canonical === '::1'
}

/** A bind to every interface, which loopback reaches too. */
export const isWildcard = (host: string): boolean => ['0.0.0.0', '::'].includes(canonicalHost(host))
