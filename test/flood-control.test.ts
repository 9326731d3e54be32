import { afterEach, describe, expect, it, vi } from 'vitest'
import { FloodControl } from '../src/main/core/server/flood-control'

/** The bucket reads performance.now(); these tests move it by hand. */
let clock = 1000
afterEach(() => vi.restoreAllMocks())
function useClock(): void {
  clock = 1000
  vi.spyOn(performance, 'now').mockImplementation(() => clock)
}

const takeMany = (flood: FloodControl, n: number) => Array.from({ length: n }, () => flood.take())

describe('FloodControl', () => {
  it('passes a burst, then drops, telling the sender once a second at most', () => {
    useClock()
    const flood = new FloodControl(50, 10)
    expect(takeMany(flood, 10).every((v) => v === 'pass')).toBe(true)
    expect(takeMany(flood, 3)).toEqual(['drop-and-tell', 'drop', 'drop'])
    clock += 1001
    // A second later there are tokens again, and a later drop is told again.
    expect(takeMany(flood, 10).every((v) => v === 'pass')).toBe(true)
    expect(flood.take()).toBe('drop-and-tell')
    expect(flood.dropped).toBe(4)
  })

  it('refills at its rate, never past its burst, however long it sat full', () => {
    useClock()
    const flood = new FloodControl(50, 10)
    clock += 10_000
    // Sat full for 10 s: still only a burst's worth, not the 500 tokens 10 s would earn.
    expect(takeMany(flood, 11).filter((v) => v === 'pass')).toHaveLength(10)
    clock += 100
    // 100 ms at 50/s: five more.
    expect(takeMany(flood, 6).filter((v) => v === 'pass')).toHaveLength(5)
  })

  it('says close once a second brings more drops than a second of rate', () => {
    useClock()
    const flood = new FloodControl(5, 1)
    const verdicts = takeMany(flood, 8)
    expect(verdicts.slice(0, 6)).toEqual(['pass', 'drop-and-tell', 'drop', 'drop', 'drop', 'drop'])
    expect(verdicts[6]).toBe('close')
  })

  it('takes a burst below one as one', () => {
    useClock()
    expect(new FloodControl(5, 0).take()).toBe('pass')
  })
})
