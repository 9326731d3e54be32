// Entry of the piscina worker thread (its own build entry, loaded by file path).
export { processBatch as default } from './process-batch'
