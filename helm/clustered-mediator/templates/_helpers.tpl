{{- define "cm.fullname" -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}

{{- define "cm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one role's pods: (dict "root" $ "component" "relay") */}}
{{- define "cm.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cm.secretName" -}}{{ default (printf "%s-secrets" (include "cm.fullname" .)) .Values.secrets.existingSecret }}{{- end -}}

{{- define "cm.image" -}}{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}{{- end -}}

{{- define "cm.secretEnv" -}}
- name: {{ .name }}
  valueFrom: { secretKeyRef: { name: {{ include "cm.secretName" .root }}, key: {{ .name }} } }
{{- end -}}

{{/* A variable from the secret that may be absent there (push credentials, ops UI credentials). */}}
{{- define "cm.optionalSecretEnv" -}}
- name: {{ .name }}
  valueFrom: { secretKeyRef: { name: {{ include "cm.secretName" .root }}, key: {{ .name }}, optional: true } }
{{- end -}}

{{/* Environment both roles read the same way. */}}
{{- define "cm.commonEnv" -}}
{{ include "cm.secretEnv" (dict "root" . "name" "REDIS_URL") }}
{{ include "cm.secretEnv" (dict "root" . "name" "INTERNAL_SECRET") }}
- name: REDIS_PREFIX
  value: {{ .Values.redis.prefix | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/* extraEnv as name/value pairs, in name order. */}}
{{- define "cm.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Scheduling fields of one role's pod spec. */}}
{{- define "cm.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Prometheus selectors of each role's series, as the chart's ServiceMonitors label them (job = Service name). */}}
{{- define "cm.relayJob" -}}namespace="{{ .Release.Namespace }}",job="{{ include "cm.fullname" . }}-relay-internal"{{- end -}}
{{- define "cm.mediatorJob" -}}namespace="{{ .Release.Namespace }}",job="{{ include "cm.fullname" . }}-mediator"{{- end -}}
