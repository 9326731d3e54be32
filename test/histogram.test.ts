import { describe, expect, it } from 'vitest'
import { createHistogram, encodeHistogram, mergeEncoded, percentilesMs, recordMs } from '../src/main/core/load/histogram'

describe('latency histogram (HdrHistogram)', () => {
  it('gives the percentiles of known latencies, to three significant digits', () => {
    const histogram = createHistogram()
    for (let ms = 1; ms <= 1000; ms++) recordMs(histogram, ms)
    const p = percentilesMs(histogram)
    expect(p.count).toBe(1000)
    expect(p.p50).toBeCloseTo(500, -0.3) // within 1 ms of 500
    expect(p.p90).toBeCloseTo(900, -0.3)
    expect(p.p99).toBeCloseTo(990, -0.3)
    expect(p.p999).toBeCloseTo(999, -0.3)
    expect(p.max).toBeCloseTo(1000, -0.3)
    expect(p.mean).toBeCloseTo(500.5, 0)
  })

  it('keeps sub-millisecond latencies apart', () => {
    const histogram = createHistogram()
    for (let i = 0; i < 99; i++) recordMs(histogram, 0.25)
    recordMs(histogram, 40)
    const p = percentilesMs(histogram)
    expect(p.p50).toBe(0.25)
    expect(p.p99).toBe(0.25)
    expect(p.max).toBeCloseTo(40, 1)
  })

  it('merges what agents send, as if one histogram had recorded everything', () => {
    const fast = createHistogram()
    const slow = createHistogram()
    for (let i = 0; i < 900; i++) recordMs(fast, 1)
    for (let i = 0; i < 100; i++) recordMs(slow, 100)
    const merged = createHistogram()
    mergeEncoded(merged, encodeHistogram(fast))
    mergeEncoded(merged, encodeHistogram(slow))
    const p = percentilesMs(merged)
    expect(p.count).toBe(1000)
    expect(p.p50).toBe(1)
    expect(p.p90).toBe(1)
    expect(p.p99).toBeCloseTo(100, 0)
  })

  it('reports zeros, not NaN, when nothing was recorded', () => {
    expect(percentilesMs(createHistogram())).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 })
  })
})
