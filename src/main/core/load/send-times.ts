/** Send times of a client's messages still in flight, oldest first; grows only as far as the backlog does. */
export class SendTimes {
  private times = new Float64Array(8)
  private head = 0
  private length = 0

  push(at: number, count: number): void {
    if (this.length + count > this.times.length) this.grow(this.length + count)
    for (let i = 0; i < count; i++) this.times[(this.head + this.length++) % this.times.length] = at
  }

  shift(): number {
    const at = this.times[this.head]
    this.head = (this.head + 1) % this.times.length
    this.length--
    return at
  }

  private grow(needed: number): void {
    let size = this.times.length * 2
    while (size < needed) size *= 2
    const next = new Float64Array(size)
    for (let i = 0; i < this.length; i++) next[i] = this.times[(this.head + i) % this.times.length]
    this.times = next
    this.head = 0
  }
}
