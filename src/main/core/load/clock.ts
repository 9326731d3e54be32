/** Epoch milliseconds with sub-millisecond precision: comparable between the agents of one run. */
export const now = (): number => performance.timeOrigin + performance.now()
