export * from './env.js'
export * from './env-types.js'
export * from './logger.js'
