export { runClosedLoop } from './closed-loop'
export { LOAD_DEFAULTS, resolveLoadOptions } from './options'
export type { LatencyReport, LoadOptions, LoadReport } from './types'
