import { describe, expect, it } from 'vitest'
import { checkLoadReach, checkServerReach, checkTargetReach, OPERATOR_REACH, OWN_SERVER_ONLY, type Reach } from '../src/main/host/reach'
import { DEFAULT_SERVER_CONFIG, type BoundListener, type ServerConfig } from '../src/shared/contract'
import { LOAD_DEFAULTS } from '../src/shared/load'

const listening = (host: string, port = 7000): BoundListener => ({ codec: 'line', host, port, name: `line:${port}` })
const serving = (host: string, redis?: string): ServerConfig => ({
  ...DEFAULT_SERVER_CONFIG,
  listeners: [{ codec: 'line', host, port: 0 }],
  cluster: redis ? { redis, nodeId: 'n1' } : null
})
const reaches = (target: { host: string; port: number }, own: BoundListener[], reach: Reach = OWN_SERVER_ONLY) => {
  try {
    checkTargetReach(target, own, reach)
    return true
  } catch {
    return false
  }
}

describe('what a page may reach', () => {
  it('binds beyond loopback only where the process allows it', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']) expect(() => checkServerReach(serving(host), OWN_SERVER_ONLY)).not.toThrow()
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'box.example']) {
      expect(() => checkServerReach(serving(host), OWN_SERVER_ONLY)).toThrow(/beyond loopback: only the process may allow that/)
      expect(() => checkServerReach(serving(host), { ...OWN_SERVER_ONLY, allowRemote: true })).not.toThrow()
    }
  })

  it('joins a cluster only through the Redis the process was started with, beyond loopback only if allowed', () => {
    const operators = { ...OWN_SERVER_ONLY, redis: 'redis://127.0.0.1:6379' }
    expect(() => checkServerReach(serving('127.0.0.1', 'redis://127.0.0.1:6379'), operators)).not.toThrow()
    expect(() => checkServerReach(serving('127.0.0.1', 'redis://127.0.0.1:3306'), operators)).toThrow(/only the process names it \(switchboard serve --cluster URL\)/)
    expect(() => checkServerReach(serving('127.0.0.1', 'redis://127.0.0.1:6379'), OWN_SERVER_ONLY)).toThrow(/not the one this process was started with/)
    const remote = { ...OWN_SERVER_ONLY, redis: 'redis://192.0.2.7:6379' }
    expect(() => checkServerReach(serving('127.0.0.1', remote.redis), remote)).toThrow(/Redis at redis:\/\/192\.0\.2\.7:6379 is beyond loopback/)
    expect(() => checkServerReach(serving('127.0.0.1', remote.redis), { ...remote, allowRemote: true })).not.toThrow()
    // The desktop app's window is the operator's: it names its own Redis.
    expect(() => checkServerReach(serving('0.0.0.0', 'redis://192.0.2.7:6379'), OPERATOR_REACH)).not.toThrow()
  })

  it("connects to this server's listeners as bound, an IPv4 address in IPv6 clothing included", () => {
    expect(reaches({ host: '127.0.0.1', port: 7000 }, [listening('127.0.0.1')])).toBe(true)
    expect(reaches({ host: '::ffff:127.0.0.1', port: 7000 }, [listening('127.0.0.1')])).toBe(true)
    expect(reaches({ host: '[::1]', port: 7000 }, [listening('::1')])).toBe(true)
    expect(reaches({ host: '127.0.0.1', port: 7001 }, [listening('127.0.0.1')])).toBe(false)
  })

  it('never takes a name for an address: localhost may resolve to the other loopback, where another service listens', () => {
    expect(reaches({ host: 'localhost', port: 7000 }, [listening('127.0.0.1')])).toBe(false)
    expect(reaches({ host: '127.0.0.1', port: 7000 }, [listening('localhost')])).toBe(false)
    expect(reaches({ host: 'localhost', port: 7000 }, [listening('localhost')])).toBe(true)
  })

  it('reaches a listener on every interface over loopback of its own family', () => {
    expect(reaches({ host: '127.0.0.1', port: 7000 }, [listening('0.0.0.0')])).toBe(true)
    expect(reaches({ host: '::1', port: 7000 }, [listening('0.0.0.0')])).toBe(false)
    expect(reaches({ host: 'localhost', port: 7000 }, [listening('0.0.0.0')])).toBe(false)
    expect(reaches({ host: '::1', port: 7000 }, [listening('::')])).toBe(true)
    expect(reaches({ host: '127.0.0.1', port: 7000 }, [listening('::')])).toBe(true)
    expect(reaches({ host: '192.0.2.1', port: 7000 }, [listening('0.0.0.0')])).toBe(false)
  })

  it('connects to the targets the operator named, and anywhere from the desktop app', () => {
    const allowed: Reach = { ...OWN_SERVER_ONLY, targets: [{ host: '127.0.0.1', port: 7100 }] }
    expect(reaches({ host: '127.0.0.1', port: 7100 }, [], allowed)).toBe(true)
    expect(reaches({ host: '127.0.0.1', port: 7200 }, [], allowed)).toBe(false)
    expect(reaches({ host: '192.0.2.1', port: 6379 }, [], OPERATOR_REACH)).toBe(true)
  })

  it('starts a load run only at reachable targets, and one that allows remote targets only if the process does', () => {
    const own = [listening('127.0.0.1')]
    const run = { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7000 }] }
    expect(() => checkLoadReach(run, own, OWN_SERVER_ONLY)).not.toThrow()
    expect(() => checkLoadReach({ ...run, targets: [...run.targets, { host: '127.0.0.1', port: 22 }] }, own, OWN_SERVER_ONLY)).toThrow(/127\.0\.0\.1:22 is not one of this server's listeners \(127\.0\.0\.1:7000\)/)
    expect(() => checkLoadReach({ ...run, allowRemote: true }, own, OWN_SERVER_ONLY)).toThrow(/a run that allows remote targets/)
    expect(() => checkLoadReach({ ...run, allowRemote: true }, own, { ...OWN_SERVER_ONLY, allowRemote: true })).not.toThrow()
  })
})
