import { resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'electron-vite'

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        // One entry per process or thread; all are emitted side by side in out/main/.
        input: {
          index: resolve('src/main/index.ts'),
          cli: resolve('src/main/cli/index.ts'),
          'logic-worker': resolve('src/main/core/logic/worker.ts'),
          'load-agent': resolve('src/main/core/load/agent.ts')
        }
      }
    }
  },
  preload: {
    build: {
      // A sandboxed preload cannot be an ES module.
      rollupOptions: { output: { format: 'cjs', entryFileNames: '[name].cjs' } }
    }
  },
  renderer: {
    plugins: [react()],
    // Served over HTTP in browser mode too: minified, and the charts and the sessions table split off (ControlPanel).
    build: { minify: true }
  }
})
