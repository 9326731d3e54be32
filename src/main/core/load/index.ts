export { LoadConfigError, resolveLoadConfig } from './config'
export { LoadRun, runLoad, type LoadRunOptions } from './coordinator'
export { searchRate, type RateSearch, type RateSearchResult } from './rate-search'
