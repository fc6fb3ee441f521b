{{- define "irsa.name" -}}{{ .Release.Name }}-webhook{{- end -}}
{{- define "irsa.labels" -}}
app.kubernetes.io/name: irsa-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "irsa.selector" -}}
app.kubernetes.io/name: irsa-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "irsa.secretName" -}}
{{- if .Values.tls.secretName -}}{{ .Values.tls.secretName }}{{- else -}}{{ include "irsa.name" . }}-tls{{- end -}}
{{- end -}}
