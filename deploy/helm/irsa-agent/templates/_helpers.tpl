{{- define "irsaagent.name" -}}{{ .Release.Name }}-agent{{- end -}}
{{- define "irsaagent.labels" -}}
app.kubernetes.io/name: irsa-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "irsaagent.selector" -}}
app.kubernetes.io/name: irsa-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
