import { parseArgs, type ParseArgsConfig } from 'node:util'

/** A command line the CLI cannot run: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

type FlagOptions = NonNullable<ParseArgsConfig['options']>
type FlagValues<O extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; options: O }>>['values']

/** node:util's parseArgs, strict, with its complaints as UsageErrors. */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O): FlagValues<O> {
  try {
    return parseArgs({ args: argv, strict: true, options }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** A whole number flag within min..max, or undefined when absent. */
export function wholeFlag(name: string, text: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^[0-9]+$/.test(text) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
    throw new UsageError(`--${name} takes a whole number ${range}, not "${text}"`)
  }
  return value
}

/** A number > 0 with an optional fraction (`2.5`), in the unit the flag is documented in; undefined when absent. */
export function positiveFlag(name: string, text: string | undefined, unit: string): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || value <= 0) throw new UsageError(`--${name} takes a number of ${unit} > 0, not "${text}"`)
  return value
}
