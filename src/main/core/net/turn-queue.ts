/**
 * Work started at most `perTurn` at a time per event-loop turn, the rest waiting in arrival order. Each batch
 * runs in the turn's check phase (setImmediate), after the poll phase has read every socket that had
 * something: however many arrive at once, the established connections' reads come between batches.
 * `perTurn` 0 starts everything at once.
 */
export class TurnQueue<T> {
  private readonly waiting = new Set<T>()
  private scheduled = false

  constructor(
    private readonly perTurn: number,
    private readonly start: (item: T) => void
  ) {}

  push(item: T): void {
    if (this.perTurn === 0) return this.start(item)
    this.waiting.add(item)
    this.schedule()
  }

  /** Takes back an item that has not started (its connection closed meanwhile); false if it was not waiting. */
  remove(item: T): boolean {
    return this.waiting.delete(item)
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.size === 0) return
    this.scheduled = true
    setImmediate(this.next)
  }

  private readonly next = (): void => {
    this.scheduled = false
    let started = 0
    for (const item of this.waiting) {
      if (started++ === this.perTurn) break
      this.waiting.delete(item)
      this.start(item)
    }
    this.schedule()
  }
}
