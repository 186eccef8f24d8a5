{{- define "quarry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "quarry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "quarry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "quarry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "quarry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quarry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "quarry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "quarry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A secret reference as the config file writes it. */}}
{{- define "quarry.ref" -}}
{{- printf "${ secrets:%s }" . }}
{{- end }}

{{/*
The chart's own Secret: API and admin keys (given, kept from a previous
release, or generated once), AWS keys, Redis and PostgreSQL URLs, extras.
*/}}
{{- define "quarry.secretData" -}}
{{- $old := dict }}
{{- with (lookup "v1" "Secret" .Release.Namespace (include "quarry.fullname" .)) }}
{{- $old = .data | default dict }}
{{- end }}
{{- $data := dict }}
{{- if not .Values.secrets.existingSecret }}
{{- range $i := until (int .Values.apiKeys.count) }}
{{- $name := printf "QUARRY_API_KEY_%d" $i }}
{{- $given := "" }}
{{- if lt $i (len $.Values.apiKeys.keys) }}{{ $given = index $.Values.apiKeys.keys $i }}{{ end }}
{{- if $given }}
{{- $_ := set $data $name ($given | b64enc) }}
{{- else if hasKey $old $name }}
{{- $_ := set $data $name (index $old $name) }}
{{- else }}
{{- $_ := set $data $name (randAlphaNum 40 | b64enc) }}
{{- end }}
{{- end }}
{{- if .Values.adminKey.enabled }}
{{- if .Values.adminKey.value }}
{{- $_ := set $data "QUARRY_ADMIN_KEY" (.Values.adminKey.value | b64enc) }}
{{- else if hasKey $old "QUARRY_ADMIN_KEY" }}
{{- $_ := set $data "QUARRY_ADMIN_KEY" (index $old "QUARRY_ADMIN_KEY") }}
{{- else }}
{{- $_ := set $data "QUARRY_ADMIN_KEY" (randAlphaNum 40 | b64enc) }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.aws.accessKeyId }}{{ $_ := set $data "AWS_ACCESS_KEY_ID" (. | b64enc) }}{{ end }}
{{- with .Values.aws.secretAccessKey }}{{ $_ := set $data "AWS_SECRET_ACCESS_KEY" (. | b64enc) }}{{ end }}
{{- with .Values.redis.url }}{{ $_ := set $data "QUARRY_REDIS_URL" (. | b64enc) }}{{ end }}
{{- with .Values.postgresql.dsn }}{{ $_ := set $data "QUARRY_POSTGRES_DSN" (. | b64enc) }}{{ end }}
{{- with .Values.storeEncryptionKey.value }}{{ $_ := set $data "QUARRY_STORE_ENCRYPTION_KEY" (. | b64enc) }}{{ end }}
{{- range $k, $v := .Values.secrets.extra }}{{ $_ := set $data $k ($v | toString | b64enc) }}{{ end }}
{{- toYaml $data }}
{{- end }}

{{/* The gateway's config file. */}}
{{- define "quarry.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $server := deepCopy (get $cfg "server" | default dict) }}
{{- $_ := set $server "address" (printf "0.0.0.0:%d" (int .Values.service.port)) }}
{{- $keys := list }}
{{- range $i := until (int .Values.apiKeys.count) }}
{{- $keys = append $keys (include "quarry.ref" (printf "QUARRY_API_KEY_%d" $i)) }}
{{- end }}
{{- $_ := set $server "api_keys" $keys }}
{{- if .Values.adminKey.enabled }}
{{- $_ := set $server "admin_key" (include "quarry.ref" "QUARRY_ADMIN_KEY") }}
{{- end }}
{{- $_ := set $server "shutdown_timeout" (printf "%ds" (int .Values.shutdown.timeoutSeconds)) }}
{{- $_ := set $server "drain_delay" (printf "%ds" (int .Values.shutdown.drainDelaySeconds)) }}
{{- $_ := set $cfg "server" $server }}
{{- $store := deepCopy (get $cfg "store" | default dict) }}
{{- if or .Values.postgresql.dsn .Values.postgresql.dsnFromSecret }}
{{- $_ := set $store "postgres_dsn" (include "quarry.ref" "QUARRY_POSTGRES_DSN") }}
{{- else }}
{{- $_ := set $store "path" "/var/lib/quarry/endpoints.db" }}
{{- end }}
{{- if or .Values.storeEncryptionKey.value .Values.storeEncryptionKey.fromSecret }}
{{- $_ := set $store "encryption_key" (include "quarry.ref" "QUARRY_STORE_ENCRYPTION_KEY") }}
{{- end }}
{{- $_ := set $cfg "store" $store }}
{{- if or .Values.redis.url .Values.redis.urlFromSecret }}
{{- $limits := deepCopy (get $cfg "limits" | default dict) }}
{{- $_ := set $limits "redis_url" (include "quarry.ref" "QUARRY_REDIS_URL") }}
{{- $_ := set $cfg "limits" $limits }}
{{- end }}
{{- $_ := set $cfg "version" "v1" }}
{{- toYaml $cfg }}
{{- end }}
