export * from './postgres.js'
export * from './redis.js'
export * from './ports.js'
