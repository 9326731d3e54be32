const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })

export const formatCount = (value: number): string => compact.format(value)

export function formatBytes(value: number): string {
  return `${compact.format(value)}B`
}

export function formatMs(value: number | null): string {
  if (value === null) return '–'
  return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = s % 60
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${rest}s` : `${rest}s`
}

export const formatTime = (at: number): string => new Date(at).toLocaleTimeString('en-GB', { hour12: false })

/** A share 0..1 as a percentage, with a decimal while it is small enough for one to matter. */
export function formatPercent(share: number): string {
  const percent = share * 100
  return `${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%`
}

/** `1 error`, `2 errors`, `1.2K errors`: a count with its noun, singular only for exactly one. */
export const plural = (count: number, noun: string): string => `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`
