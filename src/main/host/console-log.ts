import type { SwitchboardApi } from '../../shared/contract'
import type { LogEvent } from '../../shared/telemetry'

/** What a console shows of the log unless asked for everything: faults, pressure, shutting down. */
const NOTABLE = new Set<LogEvent['kind']>(['error', 'pressure', 'shutdown'])

/** Prints the host's log to stdout as a console peer (the CLI, and the desktop app's main process). */
export function logToConsole(api: SwitchboardApi, everything = false): void {
  api.onLog((events) => {
    for (const event of events) {
      if (everything || NOTABLE.has(event.kind)) console.log(`${new Date(event.at).toISOString()} ${event.kind} ${event.text}`)
    }
  })
}
