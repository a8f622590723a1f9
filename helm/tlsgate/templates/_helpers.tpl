{{/* Labels every object carries. */}}
{{- define "tlsgate.labels" -}}
app.kubernetes.io/part-of: tlsgate
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* A service's object name: <release>-<service>. Call with (dict "root" $ "svc" $svc). */}}
{{- define "tlsgate.name" -}}
{{- printf "%s-%s" .root.Release.Name .svc.name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* The labels that select a service's pods. */}}
{{- define "tlsgate.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .svc.name }}
{{- end }}

{{/* A service's image. */}}
{{- define "tlsgate.image" -}}
{{- $reg := .root.Values.image.registry -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- if $reg }}{{ printf "%s/%s:%s" $reg .svc.image $tag }}{{ else }}{{ printf "%s:%s" .svc.image $tag }}{{ end -}}
{{- end }}

{{/* host:port of a service's gRPC port inside the cluster: its headless Service (every replica). */}}
{{- define "tlsgate.grpc" -}}
{{- printf "%s-grpc:%v" (include "tlsgate.name" .) .svc.grpcPort -}}
{{- end }}

{{/* The Secret of a service: the chart's own, or secrets.existingSecret with the same keys. */}}
{{- define "tlsgate.secretName" -}}
{{- if .root.Values.secrets.existingSecret -}}
{{- printf "%s-%s" .root.Values.secrets.existingSecret .svc.name -}}
{{- else -}}
{{- printf "%s-secrets" (include "tlsgate.name" .) -}}
{{- end -}}
{{- end }}
