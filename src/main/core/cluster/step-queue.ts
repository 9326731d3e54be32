/** One of a session's commands, as its backend runs it. */
type Run = () => Promise<unknown> | void

interface Step {
  run: Run
  /** Whether later commands wait for it to finish (it decides something they depend on), or only follow it. */
  blocks: boolean
  settled?: () => void
}

/** Runs `then` now if there is nothing to wait for, else after it: the fast path stays synchronous. */
export function after(wait: Promise<unknown> | void, then: () => unknown): Promise<unknown> | void {
  if (!wait) return void then()
  return wait.then(then)
}

/**
 * A session's commands in a cluster, run in the session's order. A step that blocks (NICK, JOIN, WHO: Redis's
 * answer decides what comes next) holds the ones after it until it is done; one that does not (CHAT: an
 * append Redis keeps in order on the connection) is started and the next may start behind it. A step that
 * fails is handed to `failed` (the session is told), and the queue goes on.
 */
export class StepQueue {
  private readonly queue: Step[] = []
  private busy = false

  constructor(private readonly failed: (error: Error) => void) {}

  /** Runs a step now if none is ahead of it, else queues it; the promise settles when it has done its part. */
  submit(blocks: boolean, run: Run): Promise<unknown> | void {
    const step: Step = { run, blocks }
    if (!this.busy) return this.start(step)
    return new Promise<void>((resolve) => this.queue.push({ ...step, settled: resolve }))
  }

  private start(step: Step): Promise<unknown> | void {
    let result: Promise<unknown> | void
    try {
      result = step.run()
    } catch (error) {
      result = Promise.reject(error)
    }
    if (!result) return
    const done = result.catch(this.failed)
    if (step.blocks) {
      this.busy = true
      void done.then(() => this.drain())
    }
    return done
  }

  private drain(): void {
    this.busy = false
    while (!this.busy && this.queue.length > 0) {
      const step = this.queue.shift()!
      const done = this.start(step)
      if (done) void done.then(step.settled)
      else step.settled!()
    }
  }
}
