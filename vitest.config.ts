import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [react()],
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Node by default; renderer tests opt into happy-dom with a `@vitest-environment` comment.
    environment: 'node',
    // Integration tests open real loopback sockets and worker threads.
    testTimeout: 20_000,
    hookTimeout: 20_000
  }
})
