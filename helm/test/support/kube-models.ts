/**
 * Where the Kubernetes and CRD schemas of each kind the chart renders come from: the npm packages
 * `kubernetes-models` (core APIs), `@kubernetes-models/prometheus-operator` and `@kubernetes-models/keda`
 * (CRDs, generated from the projects' CRD schemas). Each gives a JSON-schema validator and a
 * TypeScript interface; a kind not listed here fails the tests, so a new template cannot go unchecked.
 */
export interface KubeModel {
  module: string
  /** The interface the module exports for the kind. */
  typeName: string
}

export const KUBE_MODELS: Record<string, KubeModel> = {
  'v1/Secret': { module: 'kubernetes-models/v1/Secret', typeName: 'ISecret' },
  'v1/Service': { module: 'kubernetes-models/v1/Service', typeName: 'IService' },
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', typeName: 'IConfigMap' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', typeName: 'IDeployment' },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', typeName: 'IPodDisruptionBudget' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    typeName: 'IHorizontalPodAutoscaler',
  },
  'networking.k8s.io/v1/Ingress': { module: 'kubernetes-models/networking.k8s.io/v1/Ingress', typeName: 'IIngress' },
  'networking.k8s.io/v1/NetworkPolicy': {
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    typeName: 'INetworkPolicy',
  },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    typeName: 'IServiceMonitor',
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
    typeName: 'IPrometheusRule',
  },
  'keda.sh/v1alpha1/ScaledObject': { module: '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', typeName: 'IScaledObject' },
}

export interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

export const kindKey = (m: Pick<Manifest, 'apiVersion' | 'kind'>): string => `${m.apiVersion}/${m.kind}`
