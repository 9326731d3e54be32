declare global {
  interface Window {
    switchboard?: { version: number }
  }
}

export {}
