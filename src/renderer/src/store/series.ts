/** Points a live chart keeps: five minutes at four samples a second. */
export const HISTORY_POINTS = 1200

/**
 * Appends one point to a chart column (uPlot's layout), dropping the oldest past HISTORY_POINTS.
 * A new array each time, so a selector sees the change. null is a gap: nothing was measured.
 */
export function appendPoint<T extends number | null>(series: T[], value: T): T[] {
  const next = series.length >= HISTORY_POINTS ? series.slice(series.length - HISTORY_POINTS + 1) : series.slice()
  next.push(value)
  return next
}
