import type { LoadConfig, LoadReport } from '../../../shared/load'
import { resolveLoadConfig } from './config'
import { runLoad, type LoadRunOptions } from './coordinator'

export interface RateSearch {
  /** The latency a rate must keep: p99 of send-to-own-echo, in ms. */
  targetP99Ms: number
  /** Messages per second per client to start from, and never to go beyond. */
  minRate: number
  maxRate: number
  /** Length of each trial run. */
  trialMs: number
  /** Bisection steps after the first rate that misses. */
  refineSteps: number
}

export interface RateTrial {
  rate: number
  report: LoadReport
  /** Complete, and its p99 under the target. */
  kept: boolean
}

export interface RateSearchResult {
  /** The highest rate kept, with its report; null if even the lowest missed. */
  best: RateTrial | null
  trials: RateTrial[]
}

/**
 * Finds the highest open-loop rate (messages/s per client) whose p99 stays under a target: doubles
 * the rate until a trial misses (or is incomplete), then bisects between the last kept and the first
 * missed rate. Each trial is a full run of its own, so one trial's backlog never spills into the next.
 */
export async function searchRate(
  base: LoadConfig,
  search: RateSearch,
  options: LoadRunOptions,
  onTrial?: (trial: RateTrial) => void
): Promise<RateSearchResult> {
  const trials: RateTrial[] = []
  const attempt = async (rate: number): Promise<RateTrial> => {
    const config = resolveLoadConfig({ ...base, mode: 'open', rate, messages: 0, durationMs: search.trialMs })
    const report = await runLoad(config, { ...options, runId: (options.runId ?? 1) + trials.length })
    const trial = { rate, report, kept: report.complete && report.latencyMs.p99 <= search.targetP99Ms }
    trials.push(trial)
    onTrial?.(trial)
    return trial
  }

  let best: RateTrial | null = null
  let missed: number | null = null
  for (let rate = search.minRate; ; rate = Math.min(rate * 2, search.maxRate)) {
    const trial = await attempt(rate)
    if (!trial.kept) {
      missed = rate
      break
    }
    best = trial
    if (rate >= search.maxRate) break
  }
  if (missed === null || best === null) return { best, trials }
  let low = best.rate
  let high = missed
  for (let step = 0; step < search.refineSteps && high - low > 1; step++) {
    const trial = await attempt(Math.floor((low + high) / 2))
    if (trial.kept) {
      best = trial
      low = trial.rate
    } else {
      high = trial.rate
    }
  }
  return { best, trials }
}
