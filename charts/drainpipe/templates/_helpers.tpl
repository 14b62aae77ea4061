{{- define "drainpipe.name" -}}drainpipe-webhook{{- end -}}

{{- define "drainpipe.fullname" -}}
{{- if contains "drainpipe" .Release.Name -}}
{{- printf "%s-webhook" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-drainpipe-webhook" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "drainpipe.labels" -}}
app.kubernetes.io/name: {{ include "drainpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "drainpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drainpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "drainpipe.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "drainpipe.tlsSecret" -}}{{ include "drainpipe.fullname" . }}-tls{{- end -}}

{{/* The Service's DNS name: what the serving certificate must name. */}}
{{- define "drainpipe.serviceDNS" -}}{{ include "drainpipe.fullname" . }}.{{ .Release.Namespace }}.svc{{- end -}}
