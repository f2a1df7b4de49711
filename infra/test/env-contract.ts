/**
 * The reviewed contract between the apps' environment and what the deployments set
 * (helm/clustered-mediator and docker-compose.yml). Every variable a role reads is in exactly one
 * list: `required` ones are set by the chart and by compose; `optional` ones may be left to the app's
 * default (the reason says why that default is right for a deployment). env-contract.test.ts fails
 * when an app reads a variable that is in neither list, or a deployment sets one nobody reads.
 */
export type Role = 'relay' | 'mediator'

export interface RoleContract {
  required: string[]
  optional: Record<string, string>
  /** Set by the chart for Kubernetes' own use, not read by the app. */
  chartOnly: Record<string, string>
}

export const ENV_CONTRACT: Record<Role, RoleContract> = {
  relay: {
    required: ['RELAY_ID', 'INTERNAL_URL', 'INTERNAL_SECRET', 'REDIS_URL', 'REDIS_PREFIX', 'LOG_LEVEL'],
    optional: {
      PUBLIC_HOST: '0.0.0.0: listen on every interface of the container',
      PUBLIC_PORT: '3000; the chart sets it with its containerPort',
      INTERNAL_HOST: '0.0.0.0: workers reach the pod address',
      INTERNAL_PORT: '4000; the chart sets it with its containerPort',
      MAX_MESSAGE_BYTES: '4 MiB, the DIDComm message cap; chart value relay.maxMessageBytes',
      MAX_SEND_BYTES: 'defaults to MAX_MESSAGE_BYTES',
      SEND_BUFFER_LIMIT_BYTES: '1 MiB per socket before sends are refused as slow-consumer',
      MAX_SOCKETS: 'the container\'s open-file limit less 1,000; memory limits a pod first (relay.extraEnv to cap it)',
      MAX_PENDING_ADDS: '2,000 sockets waiting on a job add before upgrades get 503 (a reconnect storm)',
      HEARTBEAT_INTERVAL_MS: '30 s wallet pings; chart value relay.heartbeatIntervalMs',
      REGISTRY_HEARTBEAT_MS: '5 s registry refresh; chart value relay.registryHeartbeatMs (the heartbeat alert uses it)',
      RETURN_ROUTE_TIMEOUT_MS: '10 s, below Credo\'s HTTP timeout',
      SOCKET_RATE_LIMIT_PER_SEC: '20/s per socket; chart value relay.socketRateLimitPerSec',
      SOCKET_RATE_LIMIT_BURST: '100; chart value relay.socketRateLimitBurst',
      FORWARD_HEADERS: 'none; chart value relay.forwardHeaders',
      DRAIN_TIMEOUT_MS: '15 s; chart value relay.drainTimeoutMs (grace period derived from it)',
      ENQUEUE_TIMEOUT_MS: 'the shared default of the inbound queue',
      WS_ENQUEUE_RETRY_MS: '10 s of retries before a WebSocket message is refused',
      WS_ENQUEUE_PATIENCE_MS: '60 s for an add still on its way (two heartbeat sweeps)',
      HTTP_ENQUEUE_RETRY_MS: '5 s, below Credo\'s 15 s HTTP timeout',
      RETRY_AFTER_SECONDS: '5 s hint on 503',
      RECENTLY_CLOSED_MAX: '50 000 closed socket ids remembered',
      RECENTLY_CLOSED_TTL_MS: '10 min',
      JOB_ATTEMPTS: 'the shared default (10, about 8.5 min of backoff) of relays and workers',
      JOB_BACKOFF_MS: 'the shared default (1 s exponential)',
      JOB_REMOVE_ON_COMPLETE: 'BullMQ default of the inbound queue',
      JOB_REMOVE_ON_FAIL: 'dead letters kept 14 days',
    },
    chartOnly: { POD_IP: 'the downward API value INTERNAL_URL is built from' },
  },
  mediator: {
    required: ['DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'KMS_MASTER_KEY', 'PUBLIC_ENDPOINTS', 'INTERNAL_SECRET', 'LOG_LEVEL', 'DATABASE_SCHEMA'],
    optional: {
      WORKER_ID: 'host name plus a random suffix; the chart sets the pod name',
      DATABASE_POOL_SIZE: '10 connections per worker; chart value mediator.databasePoolSize',
      MEDIATOR_LABEL: '"Clustered Mediator"; chart value mediator.label',
      MEDIATION_POLICY: 'open; chart value mediator.mediationPolicy',
      MEDIATION_ALLOW_LIST: 'empty; chart value mediator.mediationAllowList',
      WORKER_CONCURRENCY: '32 jobs at a time; chart value mediator.concurrency',
      INBOUND_LOCK_DURATION_MS: '30 s: how long a dead worker\'s jobs wait for retry',
      INBOUND_STALLED_INTERVAL_MS: '15 s stalled-job check',
      PICKUP_RETENTION_DAYS: '7 days; chart value mediator.pickupRetentionDays',
      PICKUP_MAX_MESSAGES: '10 000 per wallet; chart value mediator.pickupMaxMessages',
      PICKUP_LEASE_MS: '60 s before an unconfirmed delivery is offered again',
      ORDER_HOLD_MS: '2 s a stuck forward may hold later deliveries back',
      OPS_HOST: '0.0.0.0',
      OPS_PORT: '4100; the chart sets it with its containerPort',
      SHUTDOWN_TIMEOUT_MS: '25 s; chart value mediator.shutdownTimeoutMs (grace period derived from it)',
      FAST_FORWARD: 'on: the fast forward path',
      CREDO_LOG_LEVEL: 'warn; chart value mediator.credoLogLevel',
      CREDO_DATA_DIR: 'a directory under the OS temp dir (the chart mounts an emptyDir at /tmp)',
      IMPLICIT_PICKUP: 'on; chart value mediator.implicitPickup',
      OPS_UI_PASSWORD: 'no queue UI; the chart takes it from the secret when present (secrets.opsUiPassword)',
      OPS_UI_TOKEN: 'no queue UI; the chart takes it from the secret when present (secrets.opsUiToken)',
      OPS_UI_USER: '"operator"; chart value mediator.opsUi.user',
      PUSH_COALESCE_MS: '30 s; chart value mediator.push.coalesceMs',
      PUSH_MAX_ATTEMPTS: '4 tries per notification',
      PUSH_RETRY_BASE_MS: '1 s first backoff',
      PUSH_RETRY_MAX_MS: '30 s longest backoff',
      PUSH_REQUEST_TIMEOUT_MS: '10 s per FCM or APNs request',
      PUSH_NOTIFICATION_TITLE: '"New message"; set through mediator.extraEnv',
      PUSH_NOTIFICATION_BODY: '"You have a new message"; set through mediator.extraEnv',
      FCM_SERVICE_ACCOUNT_JSON: 'no FCM; the chart takes it from the secret when present (secrets.fcmServiceAccountJson)',
      FCM_SERVICE_ACCOUNT_FILE: 'the inline JSON is what the chart passes',
      FCM_PROJECT_ID: 'the service account\'s project_id; chart value mediator.push.fcm.projectId',
      FCM_BASE_URL: 'Google\'s FCM endpoint',
      FCM_OAUTH_TOKEN_URL: 'the service account\'s token_uri',
      APNS_KEY: 'no APNs; the chart takes it from the secret when present (secrets.apnsKey)',
      APNS_KEY_FILE: 'the inline key is what the chart passes',
      APNS_KEY_ID: 'no APNs; chart value mediator.push.apns.keyId',
      APNS_TEAM_ID: 'chart value mediator.push.apns.teamId',
      APNS_TOPIC: 'chart value mediator.push.apns.topic',
      APNS_BASE_URL: 'Apple\'s production endpoint; chart value mediator.push.apns.sandbox for the development one',
    },
    chartOnly: {},
  },
}

/**
 * Variables read through `process.env` in packages that are not part of a relay or worker process
 * (tests, `npm start`): not the deployments' business.
 */
export const NOT_DEPLOYMENT_ENV: Record<string, string> = {
  TEST_REDIS_URL: 'packages/test-support',
  TEST_DATABASE_URL: 'packages/test-support',
  CHROMIUM_PATH: 'packages/test-support (invitation page test)',
  PATH: 'packages/local-stack (finds redis-server for npm start)',
}

/** Which role reads the `process.env` variables found in packages' sources. */
export const PACKAGE_ENV_ROLE: Record<string, Role> = {
  CREDO_DATA_DIR: 'mediator',
}
