import { beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, renderChart, valuesSchemaErrors } from './support/render-chart.js'
import type { RenderedChart } from './support/render-chart.js'
import { schemaErrors, unknownFieldErrors } from './support/validate-manifests.js'
import type { Manifest } from './support/kube-models.js'

const renderer = buildRenderer()
const describeChart = 'path' in renderer ? describe : describe.skip
if (!('path' in renderer)) {
  console.warn(`chart tests skipped: the chart renderer cannot be built here (${renderer.missing}); run scripts/install-test-deps.sh`)
}
const render = (overrides: object) => renderChart((renderer as { path: string }).path, overrides)

const secrets = { secrets: { kmsMasterKey: Buffer.alloc(32, 7).toString('base64'), internalSecret: 'internal-secret-0123456789' } }
const full = 'mediator-clustered-mediator'

/** The values combinations an operator is likely to install with; each must render valid manifests. */
const VARIANTS: Record<string, object> = {
  'default values': secrets,
  'autoscaling off': { ...secrets, relay: { autoscaling: { enabled: false } }, mediator: { autoscaling: { enabled: false } } },
  'KEDA on': { ...secrets, mediator: { autoscaling: { enabled: false }, keda: { enabled: true } } },
  'existing secret': { secrets: { existingSecret: 'mediator-keys' } },
  'ingress on': {
    ...secrets,
    relay: {
      ingress: {
        enabled: true,
        className: 'nginx',
        tls: [{ hosts: ['mediator.example.org'], secretName: 'mediator-tls' }],
        annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600' },
      },
    },
  },
  'network policy off': { ...secrets, networkPolicy: { enabled: false } },
  'monitoring on': {
    ...secrets,
    relay: { autoscaling: { targetOpenSocketsPerPod: 5000, targetCPUUtilization: 0 }, extraEnv: { JOB_ATTEMPTS: 7 } },
    metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, dashboard: { enabled: true } },
  },
}

type Container = { name: string; env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>; ports: Array<{ name: string; containerPort: number }>; args: string[] }
const container = (d: Manifest): Container => (d as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!
const envValue = (c: Container, name: string) => c.env.find((e) => e.name === name)
const spec = <T>(m: Manifest) => (m as unknown as { spec: T }).spec

describeChart('Helm chart', () => {
  const rendered: Record<string, RenderedChart> = {}
  beforeAll(() => {
    for (const [label, values] of Object.entries(VARIANTS)) rendered[label] = render(values)
  })

  it.each(Object.keys(VARIANTS))('%s: every manifest is valid for the schema of its apiVersion and kind', (label) => {
    expect(rendered[label]!.manifests.length).toBeGreaterThan(5)
    expect(schemaErrors(rendered[label]!.manifests)).toEqual([])
  })

  it('no variant sets a field its kind does not have', () => {
    const all = Object.entries(rendered).flatMap(([label, r]) => r.manifests.map((manifest) => ({ label, manifest })))
    expect(unknownFieldErrors(all)).toEqual([])
  })

  it('the field check catches a misspelt field, deep or shallow', () => {
    const d = structuredClone(rendered['default values']!.find('Deployment', `${full}-relay`))
    const c = container(d) as unknown as Record<string, unknown>
    c.readinesProbe = c.readinessProbe
    const errors = unknownFieldErrors([{ label: 'typo', manifest: d }])
    expect(errors.join('\n')).toMatch(/readinesProbe/)
    expect(schemaErrors([{ ...d, spec: { template: {} } } as Manifest]).join('\n')).toMatch(/selector/)
  })

  it('default values: both roles with HPAs, PDBs, NetworkPolicies and the chart\'s Secret; no optional extras', () => {
    const r = rendered['default values']!
    expect(r.manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      [
        `Deployment/${full}-mediator`,
        `Deployment/${full}-relay`,
        `HorizontalPodAutoscaler/${full}-mediator`,
        `HorizontalPodAutoscaler/${full}-relay`,
        `NetworkPolicy/${full}-mediator`,
        `NetworkPolicy/${full}-relay`,
        `PodDisruptionBudget/${full}-mediator`,
        `PodDisruptionBudget/${full}-relay`,
        `Secret/${full}-secrets`,
        `Service/${full}-mediator`,
        `Service/${full}-relay`,
        `Service/${full}-relay-internal`,
      ].sort(),
    )
    const relayHpa = spec<{ metrics: Array<{ resource: { name: string } }> }>(r.find('HorizontalPodAutoscaler', `${full}-relay`))
    expect(relayHpa.metrics.map((m) => m.resource.name)).toEqual(['memory', 'cpu'])
    const workerHpa = spec<{ metrics: Array<{ resource: { name: string } }> }>(r.find('HorizontalPodAutoscaler', `${full}-mediator`))
    expect(workerHpa.metrics.map((m) => m.resource.name)).toEqual(['cpu'])
    // The HPAs own the replica counts.
    expect(spec<{ replicas?: number }>(r.find('Deployment', `${full}-relay`)).replicas).toBeUndefined()
  })

  it('the relay\'s ports, probes and INTERNAL_URL agree with each other and with its Services', () => {
    const r = rendered['default values']!
    const relay = container(r.find('Deployment', `${full}-relay`))
    expect(relay.args).toEqual(['apps/relay/dist/main.js'])
    const port = (name: string) => relay.ports.find((p) => p.name === name)!.containerPort
    expect(envValue(relay, 'INTERNAL_PORT')!.value).toBe(String(port('internal')))
    expect(envValue(relay, 'PUBLIC_PORT')!.value).toBe(String(port('public')))
    expect(envValue(relay, 'INTERNAL_URL')!.value).toBe(`http://$(POD_IP):${port('internal')}`)
    // $(POD_IP) expands only if POD_IP comes earlier in the list.
    const names = relay.env.map((e) => e.name)
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('INTERNAL_URL'))
    const publicService = spec<{ ports: Array<{ targetPort: string }> }>(r.find('Service', `${full}-relay`))
    expect(publicService.ports.map((p) => p.targetPort)).toEqual(['public'])
    const worker = container(r.find('Deployment', `${full}-mediator`))
    expect(worker.args).toEqual(['apps/mediator/dist/main.js'])
    expect(envValue(worker, 'OPS_PORT')!.value).toBe(String(worker.ports.find((p) => p.name === 'ops')!.containerPort))
    expect(envValue(worker, 'PUBLIC_ENDPOINTS')!.value).toBe('https://mediator.example.org,wss://mediator.example.org')
  })

  it('autoscaling off: fixed replica counts and no HPA', () => {
    const r = rendered['autoscaling off']!
    expect(r.all('HorizontalPodAutoscaler')).toEqual([])
    expect(spec<{ replicas: number }>(r.find('Deployment', `${full}-relay`)).replicas).toBe(2)
    expect(spec<{ replicas: number }>(r.find('Deployment', `${full}-mediator`)).replicas).toBe(2)
  })

  it('KEDA on: a ScaledObject on the workers\' waiting jobs replaces their HPA; the relays keep theirs', () => {
    const r = rendered['KEDA on']!
    expect(r.all('HorizontalPodAutoscaler').map((h) => h.metadata.name)).toEqual([`${full}-relay`])
    const so = spec<{ scaleTargetRef: { name: string }; minReplicaCount: number; triggers: Array<{ type: string; metadata: Record<string, string> }> }>(
      r.find('ScaledObject', `${full}-mediator`),
    )
    expect(so.scaleTargetRef.name).toBe(`${full}-mediator`)
    expect(so.minReplicaCount).toBeGreaterThanOrEqual(1)
    expect(so.triggers[0]!.type).toBe('prometheus')
    expect(so.triggers[0]!.metadata.query).toBe(
      `max(mediator_inbound_queue_depth{namespace="didcomm",job="${full}-mediator",state="waiting"})`,
    )
    expect(spec<{ replicas?: number }>(r.find('Deployment', `${full}-mediator`)).replicas).toBeUndefined()
  })

  it('refuses HPA and KEDA on the workers at once', () => {
    expect(() => render({ ...secrets, mediator: { keda: { enabled: true } } })).toThrow(/both scale the workers/)
  })

  it('existing secret: no Secret of its own, every secret variable read from the named one', () => {
    const r = rendered['existing secret']!
    expect(r.all('Secret')).toEqual([])
    for (const name of [`${full}-relay`, `${full}-mediator`]) {
      const refs = container(r.find('Deployment', name)).env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []))
      expect(refs.length).toBeGreaterThanOrEqual(2)
      expect(new Set(refs.map((ref) => ref.name))).toEqual(new Set(['mediator-keys']))
    }
    const workerRefs = container(r.find('Deployment', `${full}-mediator`)).env.flatMap((e) => e.valueFrom?.secretKeyRef ?? [])
    expect(workerRefs.filter((ref) => !ref.optional).map((ref) => ref.key).sort()).toEqual(['DATABASE_URL', 'INTERNAL_SECRET', 'KMS_MASTER_KEY', 'REDIS_URL'])
    // Push and queue UI credentials only where the secret holds them.
    expect(workerRefs.filter((ref) => ref.optional).map((ref) => ref.key).sort()).toEqual(['APNS_KEY', 'FCM_SERVICE_ACCOUNT_JSON', 'OPS_UI_PASSWORD', 'OPS_UI_TOKEN'])
  })

  it('push and queue UI credentials go into the chart\'s Secret only when given, and APNs settings with them', () => {
    const r = render({
      ...secrets,
      secrets: { ...secrets.secrets, opsUiPassword: 'a-long-ui-password', apnsKey: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' },
      mediator: { push: { apns: { keyId: 'KEY123', teamId: 'TEAM123', topic: 'org.example.wallet', sandbox: true } } },
    })
    const data = (r.find('Secret', `${full}-secrets`) as unknown as { stringData: Record<string, string> }).stringData
    expect(Object.keys(data).sort()).toEqual(['APNS_KEY', 'DATABASE_URL', 'INTERNAL_SECRET', 'KMS_MASTER_KEY', 'OPS_UI_PASSWORD', 'REDIS_URL'])
    const env = Object.fromEntries(container(r.find('Deployment', `${full}-mediator`)).env.map((e) => [e.name, e.value]))
    expect(env).toMatchObject({ APNS_KEY_ID: 'KEY123', APNS_TEAM_ID: 'TEAM123', APNS_TOPIC: 'org.example.wallet', APNS_BASE_URL: 'https://api.sandbox.push.apple.com' })
    const defaults = Object.keys((rendered['default values']!.find('Secret', `${full}-secrets`) as unknown as { stringData: object }).stringData)
    expect(defaults.sort()).toEqual(['DATABASE_URL', 'INTERNAL_SECRET', 'KMS_MASTER_KEY', 'REDIS_URL'])
  })

  it('without an existing secret the master key and internal secret are required, with a hint', () => {
    expect(() => render({})).toThrow(/secrets.kmsMasterKey is required \(openssl rand -base64 32\)/)
    expect(() => render({ secrets: { kmsMasterKey: secrets.secrets.kmsMasterKey } })).toThrow(/secrets.internalSecret is required/)
  })

  it('ingress on: routes the host to the relays\' public Service port', () => {
    const ingress = spec<{ ingressClassName: string; rules: Array<{ host: string; http: { paths: Array<{ backend: { service: { name: string; port: { name: string } } } }> } }> }>(
      rendered['ingress on']!.find('Ingress', full),
    )
    expect(ingress.ingressClassName).toBe('nginx')
    expect(ingress.rules[0]!.host).toBe('mediator.example.org')
    expect(ingress.rules[0]!.http.paths[0]!.backend.service).toEqual({ name: `${full}-relay`, port: { name: 'public' } })
  })

  it('network policy: only workers and Prometheus reach the relays\' internal port; workers take nothing but scrapes', () => {
    type Rule = { ports: Array<{ port: string | number; protocol: string }>; from?: object[]; to?: object[] }
    const r = rendered['default values']!
    const relay = spec<{ ingress: Rule[]; egress: Rule[] }>(r.find('NetworkPolicy', `${full}-relay`))
    const internal = relay.ingress.find((i) => i.ports.some((p) => p.port === 'internal'))!
    expect(internal.from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'mediator', 'app.kubernetes.io/component': 'mediator' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: {} },
    ])
    const pub = relay.ingress.find((i) => i.ports.some((p) => p.port === 'public'))!
    expect(pub.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: {} }])
    expect(relay.ingress).toHaveLength(2)
    // Relays never talk to Postgres.
    expect(relay.egress.flatMap((e) => e.ports.map((p) => p.port)).sort()).toEqual([53, 53, 6379])

    const worker = spec<{ ingress: Rule[]; egress: Rule[] }>(r.find('NetworkPolicy', `${full}-mediator`))
    expect(worker.ingress).toEqual([
      { ports: [{ port: 'ops', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: {} }] },
    ])
    const egressPorts = worker.egress.flatMap((e) => e.ports.map((p) => p.port))
    expect(egressPorts).toEqual(expect.arrayContaining([53, 6379, 5432, 4000, 443, 80]))
    expect(rendered['network policy off']!.all('NetworkPolicy')).toEqual([])
  })

  it('network policy: external Redis and Postgres as ipBlocks', () => {
    const r = render({
      ...secrets,
      networkPolicy: {
        redis: { to: [{ ipBlock: { cidr: '10.20.0.5/32' } }] },
        postgres: { port: 6432, to: [{ ipBlock: { cidr: '10.30.0.0/24' } }] },
        mediator: { agentEgress: [] },
      },
    })
    expect(schemaErrors(r.manifests)).toEqual([])
    const worker = spec<{ egress: Array<{ ports: Array<{ port: number }>; to?: object[] }> }>(r.find('NetworkPolicy', `${full}-mediator`))
    expect(worker.egress.find((e) => e.ports[0]!.port === 6432)!.to).toEqual([{ ipBlock: { cidr: '10.30.0.0/24' } }])
    expect(worker.egress.find((e) => e.ports[0]!.port === 6379)!.to).toEqual([{ ipBlock: { cidr: '10.20.0.5/32' } }])
    expect(worker.egress.some((e) => e.ports.some((p) => p.port === 443))).toBe(false)
  })

  it('monitoring on: ServiceMonitors (the relays\' with the internal secret), rules and the dashboard', () => {
    const r = rendered['monitoring on']!
    const relayMonitor = spec<{ endpoints: Array<{ port: string; authorization: { credentials: { name: string; key: string } } }> }>(
      r.find('ServiceMonitor', `${full}-relay`),
    )
    expect(relayMonitor.endpoints[0]!.port).toBe('internal')
    expect(relayMonitor.endpoints[0]!.authorization.credentials).toEqual({ name: `${full}-secrets`, key: 'INTERNAL_SECRET' })
    const rules = spec<{ groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string> }> }> }>(r.find('PrometheusRule', full))
    const alerts = rules.groups.flatMap((g) => g.rules)
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'MediatorDeadLettersGrowing',
      'MediatorInboundBacklog',
      'MediatorInboundOldestWaiting',
      'MediatorPickupMessagesExpired',
      'MediatorPickupQueueAtCap',
      'MediatorWorkerDown',
      'RelayDown',
      'RelayRefusingWallets',
      'RelayRegistrationLapsed',
      'RelayRegistryHeartbeatMissing',
    ])
    for (const a of alerts) {
      expect(a.annotations.summary, a.alert).toBeTruthy()
      expect(a.annotations.description, a.alert).toMatch(/Runbook: /)
    }
    const dashboard = r.find('ConfigMap', `${full}-dashboard`)
    expect(dashboard.metadata.labels!.grafana_dashboard).toBe('1')
    const json = JSON.parse((dashboard as unknown as { data: Record<string, string> }).data['clustered-mediator.json']!) as { panels: unknown[] }
    expect(json.panels.length).toBeGreaterThanOrEqual(6)
    const relayHpa = spec<{ metrics: Array<{ type: string; pods?: { metric: { name: string } } }> }>(r.find('HorizontalPodAutoscaler', `${full}-relay`))
    expect(relayHpa.metrics.map((m) => m.pods?.metric.name ?? m.type)).toEqual(['Resource', 'relay_open_sockets'])
    expect(envValue(container(r.find('Deployment', `${full}-relay`)), 'JOB_ATTEMPTS')!.value).toBe('7')
  })

  it('NOTES.txt gives the invitation URL and the next step', () => {
    const notes = rendered['default values']!.notes
    expect(notes).toContain('https://mediator.example.org/invitation')
    expect(notes).toContain(`kubectl -n didcomm port-forward service/${full}-relay 3000:80`)
    expect(notes).toMatch(/request mediation/)
    expect(rendered['ingress on']!.notes).not.toContain('port-forward')
    expect(rendered['existing secret']!.notes).not.toContain('secrets.kmsMasterKey')
  })
})

describe('values.schema.json', () => {
  const base = () => structuredClone({ ...secrets, secrets: { ...secrets.secrets, existingSecret: '' } })
  const withDefaults = (change: (v: Record<string, unknown>) => void): Record<string, unknown> => {
    // The chart's defaults, as Helm validates the coalesced values.
    const r = 'path' in renderer ? renderChart(renderer.path, base()).values : undefined
    if (!r) return {}
    const v = structuredClone(r)
    change(v)
    return v
  }

  it.skipIf(!('path' in renderer))('accepts the defaults and refuses what the apps would refuse', () => {
    expect(valuesSchemaErrors(withDefaults(() => {}))).toEqual([])
    const bad: Array<[string, (v: Record<string, unknown>) => void, RegExp]> = [
      ['an unknown top-level key', (v) => (v.replica = 3), /additional properties/],
      ['a misspelt nested key', (v) => ((v.relay as Record<string, unknown>).drainTimeout = 1), /additional properties/],
      ['a mediation policy the worker does not know', (v) => ((v.mediator as Record<string, unknown>).mediationPolicy = 'closed'), /allowed values/],
      ['KEDA with no worker to export the backlog', (v) => (((v.mediator as Record<string, Record<string, unknown>>).keda!.minReplicas = 0)), /must be >= 1/],
      ['a master key that is not 32 bytes', (v) => ((v.secrets as Record<string, unknown>).kmsMasterKey = 'c2hvcnQ='), /must match pattern/],
      ['a Redis URL that is not one', (v) => ((v.redis as Record<string, unknown>).url = 'http://redis:6379'), /must match pattern/],
      ['an env name that is not one', (v) => ((v.mediator as Record<string, unknown>).extraEnv = { 'bad name': 'x' }), /property name/],
    ]
    for (const [what, change, message] of bad) {
      expect(valuesSchemaErrors(withDefaults(change)).join('\n'), what).toMatch(message)
    }
  })
})
