import type { StateCreator } from 'zustand/vanilla'
import type { LogEvent } from '../../../shared/telemetry'
import type { AppState } from '.'

/** The log keeps the newest events only: a flood of connects must not grow the page without end. */
export const LOG_CAP = 2000

export interface LogSlice {
  log: LogEvent[]
  appendLog(events: LogEvent[]): void
}

export const createLogSlice: StateCreator<AppState, [], [], LogSlice> = (set) => ({
  log: [],
  appendLog: (events) =>
    set(({ log }) => {
      const next = log.concat(events)
      return { log: next.length > LOG_CAP ? next.slice(next.length - LOG_CAP) : next }
    })
})
