// Number fields of the forms. An empty field is not 0 (which means "no limit" or "any port" to the server):
// it becomes NaN, which the host refuses by name, so a cleared field is never sent as something it is not.

export const toNumber = (text: string): number => (text.trim() === '' ? Number.NaN : Number(text))

/** Seconds typed, milliseconds sent; a positive value too small to be a millisecond is refused, not made 0. */
export function secondsToMs(text: string): number {
  const seconds = toNumber(text)
  const ms = Math.round(seconds * 1000)
  return seconds > 0 && ms === 0 ? Number.NaN : ms
}

/** What a number input shows for a value: nothing for NaN (React would complain of it). */
export const shown = (value: number): number | string => (Number.isNaN(value) ? '' : value)
