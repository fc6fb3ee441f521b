{{- define "irsacp.labels" -}}
app.kubernetes.io/part-of: irsa
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "irsacp.image" -}}
"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
{{- end -}}
{{- define "irsacp.keySecret" -}}
{{- if .Values.signingKeys.existingSecret -}}{{ .Values.signingKeys.existingSecret }}{{- else -}}{{ .Release.Name }}-signing-keys{{- end -}}
{{- end -}}
{{/* The pod spec parts both servers share: security, volumes, scheduling. */}}
{{- define "irsacp.podCommon" -}}
serviceAccountName: {{ .Release.Name }}-irsa
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
terminationGracePeriodSeconds: 30
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: config
    configMap:
      name: {{ .Release.Name }}-config
  - name: signing-keys
    secret:
      secretName: {{ include "irsacp.keySecret" . }}
      defaultMode: 0440
  - name: cluster-ca
    configMap:
      name: {{ .Values.clusterCA.configMap }}
      items:
        - key: {{ .Values.clusterCA.key }}
          path: ca.crt
{{- end -}}
{{- define "irsacp.mounts" -}}
- name: config
  mountPath: /etc/irsa/config
  readOnly: true
- name: signing-keys
  mountPath: /etc/irsa/keys
  readOnly: true
- name: cluster-ca
  mountPath: /etc/irsa/cluster-ca
  readOnly: true
{{- end -}}
{{- define "irsacp.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
