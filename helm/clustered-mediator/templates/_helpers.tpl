{{- define "cm.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "cm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "cm.secretName" -}}{{ default (printf "%s-secrets" (include "cm.fullname" .)) .Values.secrets.existingSecret }}{{- end -}}
{{- define "cm.commonEnv" -}}
- name: REDIS_URL
  valueFrom: { secretKeyRef: { name: {{ include "cm.secretName" . }}, key: REDIS_URL, optional: true } }
- name: REDIS_PREFIX
  value: {{ .Values.redis.prefix | quote }}
- name: INTERNAL_SECRET
  valueFrom: { secretKeyRef: { name: {{ include "cm.secretName" . }}, key: INTERNAL_SECRET } }
- name: LOG_LEVEL
  value: info
{{- end -}}
