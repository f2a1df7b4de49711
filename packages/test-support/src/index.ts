export * from './postgres.js'
export * from './redis.js'
export * from './ports.js'
export * from './in-memory-storage.js'
