import { existsSync, readFileSync, renameSync } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { DEFAULT_LIMITS, DEFAULT_SERVER_CONFIG, type ServerConfig } from '../../shared/contract'
import type { LoadConfig } from '../../shared/load'
import { checkLoadConfig, checkServerConfig, ValidationError } from './validate'

/** Bumped when the shape changes; a file of another version is set aside rather than half understood. */
export const SETTINGS_VERSION = 1

/** What the control room keeps between launches. */
export interface Settings {
  version: typeof SETTINGS_VERSION
  /** The server config last started (or asked to start). */
  server: ServerConfig
  /** The traffic lab's last run; null before the first. */
  load: LoadConfig | null
}

export const DEFAULT_SETTINGS: Settings = { version: SETTINGS_VERSION, server: DEFAULT_SERVER_CONFIG, load: null }

/** Where the host keeps settings: read once when made, written whenever the host has something to keep. */
export interface SettingsStore {
  /** What was kept, checked; null when nothing was, or nothing usable. */
  readonly kept: Settings | null
  /** Why what was kept could not be used, for the host to report; null when nothing was wrong. */
  readonly problem: string | null
  /** Keeps these settings; resolves with why it could not, or null. Never rejects: a lost save is no reason to fail a start. */
  save(settings: Settings): Promise<string | null>
}

/** Settings as written, checked by the same rules as the calls that set them; throws a ValidationError saying why not. */
export function parseSettings(text: string): Settings {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ValidationError(`not JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError('not a JSON object')
  const o = value as Record<string, unknown>
  if (o.version !== SETTINGS_VERSION) throw new ValidationError(`version ${JSON.stringify(o.version)}, where this build reads ${SETTINGS_VERSION}`)
  const extra = Object.keys(o).filter((key) => !['version', 'server', 'load'].includes(key))
  if (extra.length > 0) throw new ValidationError(`unknown keys ${extra.join(', ')}`)
  return {
    version: SETTINGS_VERSION,
    server: checkServerConfig(withLimitsAdded(o.server), 'server'),
    load: o.load === null || o.load === undefined ? null : checkLoadConfig(o.load, 'load')
  }
}

/** The hard output limit's default before the soft limit came: a file written then holds it as it was. */
const OLD_OUTPUT_DEFAULT = 1 << 20

/**
 * A limit added since the file was written (such as the soft output limit) takes its default; the rest are
 * checked as they are. A file from before the soft limit that holds the old 1 MiB default for the hard one
 * takes the new default too: that was the cliff the soft limit replaced, not a choice the user made.
 */
function withLimitsAdded(server: unknown): unknown {
  const limits = (server as { limits?: unknown } | null)?.limits
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) return server
  const kept = limits as Record<string, unknown>
  const oldDefault = !('softOutputBytes' in kept) && kept.maxOutputBytes === OLD_OUTPUT_DEFAULT
  return { ...(server as object), limits: { ...DEFAULT_LIMITS, ...kept, ...(oldDefault ? { maxOutputBytes: DEFAULT_LIMITS.maxOutputBytes } : {}) } }
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code

/**
 * Settings in a JSON file (the app's is in its userData folder). A file that cannot be read or used is
 * moved aside to FILE.bad, so nothing is silently destroyed, and the host starts from the defaults;
 * writes go to a temporary file that is then renamed over FILE, so a crash mid-write leaves the old one.
 */
export function createSettingsFile(path: string): SettingsStore {
  let kept: Settings | null = null
  let problem: string | null = null
  try {
    kept = parseSettings(readFileSync(path, 'utf8'))
  } catch (error) {
    // No file is a first launch, not a problem.
    if (errorCode(error) !== 'ENOENT') problem = `settings file ${path} could not be used (${(error as Error).message}); replaced by defaults, ${setAside(path)}`
  }
  let writes: Promise<unknown> = Promise.resolve()
  return {
    kept,
    problem,
    save(settings) {
      // One write at a time, in order: the last save is what stays on disk.
      const write = writes.then(() => writeAtomically(path, `${JSON.stringify(settings, null, 2)}\n`)).then(
        () => null,
        (error: Error) => `cannot keep settings in ${path}: ${error.message}`
      )
      writes = write
      return write
    }
  }
}

/** FILE.bad, or FILE.bad.1, .2 ... when an earlier bad file is still there: one bad file never buries another. */
function asideName(path: string): string {
  let aside = `${path}.bad`
  for (let n = 1; existsSync(aside); n++) aside = `${path}.bad.${n}`
  return aside
}

function setAside(path: string): string {
  try {
    const aside = asideName(path)
    renameSync(path, aside)
    return `the file kept as ${aside}`
  } catch (error) {
    return `the file left in place (cannot rename it: ${(error as Error).message})`
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  // One name per file, not per process: a crash mid-write leaves one stray file at most, replaced next time.
  const temporary = `${path}.tmp`
  await mkdir(dirname(path), { recursive: true })
  try {
    const file = await open(temporary, 'w')
    try {
      await file.writeFile(text, 'utf8')
      // On disk before the rename: otherwise a power cut can leave the new name on empty contents.
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}
