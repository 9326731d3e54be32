/** Placeholder until the control panel lands: the server runs in the main process meanwhile. */
export function App() {
  return (
    <main>
      <h1>Switchboard</h1>
      <p>The chat server is running: line protocol on 127.0.0.1:7000, asio codec on 127.0.0.1:7001.</p>
    </main>
  )
}
