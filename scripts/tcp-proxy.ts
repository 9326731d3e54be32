import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP proxy that can cut the link without closing it, as a dead network path does: while
 * blackholed, bytes in both directions are held back (the packets "dropped", the sockets still open, so
 * neither end notices), and when the link is restored they go on in order, as TCP's retransmissions would
 * deliver them. For fault tests and the soak: a node's Redis link cut while Redis itself is fine.
 */
export class TcpProxy {
  private held: { to: Socket; chunk: Buffer }[] = []
  private cut = false
  private readonly sockets = new Set<Socket>()

  private constructor(
    private readonly server: Server,
    readonly port: number
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy
    const server = createServer((client) => {
      const upstream = createConnection({ host: targetHost, port: targetPort })
      for (const [from, to] of [
        [client, upstream],
        [upstream, client]
      ] as const) {
        proxy.sockets.add(from)
        from.on('data', (chunk: Buffer) => (proxy.cut ? proxy.held.push({ to, chunk }) : to.write(chunk)))
        from.on('error', () => to.destroy())
        from.on('close', () => {
          proxy.sockets.delete(from)
          to.destroy()
        })
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port')
    proxy = new TcpProxy(server, address.port)
    return proxy
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Holds every byte from now on, both ways; connections stay open. */
  blackhole(): void {
    this.cut = true
  }

  /** Lets the held bytes through, in order, and the link carries on. */
  restore(): void {
    this.cut = false
    const held = this.held
    this.held = []
    for (const { to, chunk } of held) if (!to.destroyed) to.write(chunk)
  }

  /** Cuts every connection now, both ends, as a network that drops them would; new ones are still taken. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }
}
