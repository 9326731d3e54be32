import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Integration tests open real loopback sockets and worker threads.
    testTimeout: 20_000,
    hookTimeout: 20_000
  }
})
