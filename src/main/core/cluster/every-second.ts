/**
 * Says a repeated event at most once a second per kind, with how many times it happened since it was last
 * said: a refusal Redis makes to every command while it lasts would otherwise write thousands of lines.
 */
export class EverySecond {
  private readonly pending = new Map<string, { text: string; count: number }>()
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly say: (kind: string, text: string, count: number) => void) {}

  note(kind: string, text: string): void {
    const seen = this.pending.get(kind)
    if (seen) {
      seen.count++
      seen.text = text
    } else this.pending.set(kind, { text, count: 1 })
    this.timer ??= setTimeout(() => this.flush(), 1000).unref()
  }

  private flush(): void {
    this.timer = null
    for (const [kind, { text, count }] of this.pending) this.say(kind, text, count)
    this.pending.clear()
  }
}
