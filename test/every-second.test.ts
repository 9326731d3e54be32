import { afterEach, describe, expect, it, vi } from 'vitest'
import { EverySecond } from '../src/main/core/cluster/every-second'

afterEach(() => {
  vi.useRealTimers()
})

describe('EverySecond', () => {
  it('says each kind of a repeated error once a second, with its count and its latest text', () => {
    vi.useFakeTimers()
    const said: string[] = []
    const errors = new EverySecond((kind, text, count) => said.push(`${kind} x${count}: ${text}`))
    for (let i = 0; i < 1000; i++) errors.note('refused', `OOM ${i}`)
    errors.note('timed out', 'no answer in time')
    expect(said).toEqual([])
    vi.advanceTimersByTime(1000)
    expect(said).toEqual(['refused x1000: OOM 999', 'timed out x1: no answer in time'])
    vi.advanceTimersByTime(5000)
    expect(said).toHaveLength(2)
    errors.note('refused', 'OOM again')
    vi.advanceTimersByTime(1000)
    expect(said.at(-1)).toBe('refused x1: OOM again')
  })
})
