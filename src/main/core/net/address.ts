import { isIP } from 'node:net'

/**
 * One spelling per address: lower case, no brackets, an IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`)
 * as its IPv4 form. Names stay names: `localhost` may resolve to ::1 on one machine and 127.0.0.1 on another.
 */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  const mapped = /^::ffff:([0-9.]+)$/.exec(lower)
  return mapped && isIP(mapped[1]) === 4 ? mapped[1] : lower
}

/** This machine, over loopback only: what Switchboard binds to and aims at unless the operator says otherwise. */
export function isLoopback(host: string): boolean {
  const canonical = canonicalHost(host)
  return canonical === 'localhost' || (isIP(canonical) === 4 && canonical.startsWith('127.')) || canonical === '::1'
}
