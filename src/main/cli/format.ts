// Number formats for the CLI's console lines.

export const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })

export const count = new Intl.NumberFormat('en')

/** Milliseconds, with two decimals while they matter; '-' when nothing was measured. */
export const ms = (value: number | null): string => (value === null ? '-' : `${value.toFixed(value < 10 ? 2 : 0)}ms`)
