export * from './relay-registry.js'
export * from './inbound-queue.js'
