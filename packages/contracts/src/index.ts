export * from './inbound-job.js'
export * from './redis-keys.js'
export * from './relay-registry.js'
export * from './internal-api.js'
