import { DEFAULT_LIMITS } from '../../../shared/contract'
import { useAppStore } from '../context'
import { formatBytes, formatPercent } from '../format'

/**
 * A session's output pending, and how near it is to being dropped as slow: its share of the hard limit, and
 * once over the soft limit, how much of its grace it has used.
 */
export function OutputPending({ queuedBytes, overSoftMs }: { queuedBytes: number; overSoftMs: number | null }) {
  const limits = useAppStore((s) => s.server?.config.limits ?? DEFAULT_LIMITS)
  const share = Math.min(1, queuedBytes / limits.maxOutputBytes)
  const nearness = overSoftMs === null ? share : Math.max(share, overSoftMs / Math.max(1, limits.softOutputMs))
  const title =
    `${formatPercent(share)} of the ${formatBytes(limits.maxOutputBytes)} limit` +
    (overSoftMs === null ? '' : `; over the ${formatBytes(limits.softOutputBytes)} soft limit for ${(overSoftMs / 1000).toFixed(1)} s of ${limits.softOutputMs / 1000} s`)
  return (
    <span className={`pending${nearness >= 0.5 ? ' near-limit' : ''}`} title={title} data-near={nearness.toFixed(2)}>
      {formatBytes(queuedBytes)}
      {queuedBytes > 0 && <span className="pending-bar" style={{ width: Math.max(2, nearness * 40) }} />}
      {overSoftMs !== null && <span className="badge warn">soft {(overSoftMs / 1000).toFixed(1)}s</span>}
    </span>
  )
}
