import * as hdr from 'hdr-histogram-js'
import type { Percentiles } from '../../../shared/load'

/** Microseconds, 1 µs to 1 hour, 3 significant digits: HdrHistogram's exact-to-precision percentiles. */
export type Histogram = hdr.Histogram

export function createHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 })
}

/** Records a duration in milliseconds (fractional) as whole microseconds. */
export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000))))
}

/** Histograms cross from agent to coordinator as HdrHistogram's compressed encoding. */
export const encodeHistogram = (histogram: Histogram): string => hdr.encodeIntoCompressedBase64(histogram)

export function mergeEncoded(into: Histogram, encoded: string): void {
  into.add(hdr.decodeFromCompressedBase64(encoded))
}

export function percentilesMs(histogram: Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000
  if (histogram.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 }
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean)
  }
}
