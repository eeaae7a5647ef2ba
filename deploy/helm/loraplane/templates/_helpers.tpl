{{- define "loraplane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "loraplane.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "web"). */}}
{{- define "loraplane.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "loraplane.image" -}}
{{- $repo := index .root.Values.image .component -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" .root.Values.image.registry $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{- define "loraplane.secretName" -}}
{{- required "secrets.existingSecret is required: the name of a Secret holding DATABASE_URL, REDIS_URL, NEXTAUTH_SECRET and LORAPLANE_SECRET_KEY (see values.yaml)" .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "loraplane.serviceAccountName" -}}
{{- printf "%s-workers" (include "loraplane.fullname" .) -}}
{{- end -}}

{{- define "loraplane.publicUrl" -}}
{{- .Values.config.publicUrl | default (printf "http://%s-web.%s.svc:%v" (include "loraplane.fullname" .) .Release.Namespace .Values.web.service.port) -}}
{{- end -}}

{{/* DATABASE_URL: from the Secret, or composed for the bundled Postgres (password by reference, never inline). */}}
{{- define "loraplane.databaseEnv" -}}
{{- $fullname := include "loraplane.fullname" . -}}
{{- if .Values.postgresql.bundled }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.existingSecret is required when postgresql.bundled is true" .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.passwordKey }}
- name: DATABASE_URL
  value: {{ printf "postgresql://postgres:$(POSTGRES_PASSWORD)@%s-postgresql:5432/%s" $fullname .Values.postgresql.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "loraplane.secretName" . }}
      key: DATABASE_URL
{{- end }}
{{- end -}}

{{- define "loraplane.storageEnv" -}}
{{- $fullname := include "loraplane.fullname" . -}}
{{- include "loraplane.databaseEnv" . }}
{{- if .Values.redis.bundled }}
- name: REDIS_URL
  value: {{ printf "redis://%s-redis:6379" $fullname | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "loraplane.secretName" . }}
      key: REDIS_URL
{{- end }}
{{- end -}}

{{- define "loraplane.commonEnv" -}}
{{- include "loraplane.storageEnv" . }}
- name: NODE_ENV
  value: production
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: DATABASE_POOL_SIZE
  value: {{ .Values.config.databasePoolSize | quote }}
- name: LORAPLANE_DATA_DIR
  value: {{ .Values.config.dataDir | quote }}
{{- end -}}

{{- define "loraplane.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "loraplane.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{- define "loraplane.podDefaults" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
