/**
 * Says a repeated event at most once a second, with how many times it happened since it was last said: a
 * refusal Redis makes to every command while it lasts would otherwise write thousands of lines.
 */
export class EverySecond {
  private count = 0
  private last = ''
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly say: (text: string, count: number) => void) {}

  note(text: string): void {
    this.count++
    this.last = text
    this.timer ??= setTimeout(() => this.flush(), 1000).unref()
  }

  private flush(): void {
    this.timer = null
    if (this.count > 0) this.say(this.last, this.count)
    this.count = 0
  }
}
