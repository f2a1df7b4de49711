export * from './frames.js'
export * from './server.js'
export * from './client.js'
