export * from './postgres.js'
export * from './redis.js'
