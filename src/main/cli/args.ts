import { parseArgs } from 'node:util'
import { DEFAULTS, parseListener, type ServerOptions } from '../core/server/options'

export class UsageError extends Error {}

export const SERVE_USAGE = `usage: switchboard serve [options]
  --listen codec:[host:]port  listener, repeatable (default line:7000); codec is line or asio
  --workers N                 logic worker threads, 0 = inline on the I/O thread (default ${DEFAULTS.workers})
  --work-us N                 simulated CPU work per message in the logic step (default 0)
  --max-line BYTES            longest line accepted (default ${DEFAULTS.maxLineBytes})
  --max-sessions N            sessions at once (default ${DEFAULTS.maxSessions})
  --max-output BYTES          output queued per session before it is dropped as slow (default ${DEFAULTS.maxOutputBytes})
  --status-ms MS              status line period, 0 = none (default 1000)
  --web PORT                  also serve the control room to a browser on 127.0.0.1:PORT (0 = any free port)
  --verbose                   print every connect, disconnect and error`

export interface ServeArgs {
  server: Omit<ServerOptions, 'workerFile'>
  statusMs: number
  /** Port of the browser control room; null for none. */
  webPort: number | null
  verbose: boolean
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^[0-9]+$/.test(text) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
    throw new UsageError(`--${name} takes a whole number ${range}, not "${text}"`)
  }
  return value
}

export function parseServeArgs(argv: string[]): ServeArgs {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        listen: { type: 'string', multiple: true },
        workers: { type: 'string' },
        'work-us': { type: 'string' },
        'max-line': { type: 'string' },
        'max-sessions': { type: 'string' },
        'max-output': { type: 'string' },
        'status-ms': { type: 'string' },
        web: { type: 'string' },
        verbose: { type: 'boolean', default: false }
      }
    }))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  let listeners
  try {
    listeners = (values.listen ?? ['line:7000']).map(parseListener)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  return {
    server: {
      ...DEFAULTS,
      listeners,
      workers: integer('workers', values.workers, DEFAULTS.workers, 0),
      workUs: integer('work-us', values['work-us'], DEFAULTS.workUs, 0),
      maxLineBytes: integer('max-line', values['max-line'], DEFAULTS.maxLineBytes, 1),
      maxSessions: integer('max-sessions', values['max-sessions'], DEFAULTS.maxSessions, 1),
      maxOutputBytes: integer('max-output', values['max-output'], DEFAULTS.maxOutputBytes, 1024)
    },
    statusMs: integer('status-ms', values['status-ms'], 1000, 0),
    webPort: values.web === undefined ? null : integer('web', values.web, 0, 0, 65535),
    verbose: values.verbose
  }
}
