{{/* The release's full name, within the 63 characters of a label value. */}}
{{- define "ramp-worker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The namespace the worker runs in. */}}
{{- define "ramp-worker.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{- define "ramp-worker.serviceAccountName" -}}
{{- default (include "ramp-worker.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels that select the worker's pods; never change them in an upgrade (Deployment selectors are immutable). */}}
{{- define "ramp-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ramp-worker.labels" -}}
{{ include "ramp-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ramp
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ramp-worker.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Where Secrets are mounted in the container. */}}
{{- define "ramp-worker.paths" -}}
clientTls: /etc/ramp/temporal-client-tls
ca: /etc/ramp/temporal-ca
prometheus: /etc/ramp/prometheus
codec: /etc/ramp/codec
git: /etc/ramp/git
gitWork: /var/lib/ramp/git
{{- end -}}

{{/*
Environment from Secrets (values, not files): the Temporal API key. Shared by the worker and the
search-attribute Job.
*/}}
{{- define "ramp-worker.secretEnv" -}}
{{- if .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKey.secretName }}
      key: {{ .Values.temporal.apiKey.key }}
{{- end }}
{{- end -}}

{{/* Volumes for the Temporal TLS Secrets; `all` adds the worker-only ones (Prometheus, codec). */}}
{{- define "ramp-worker.secretVolumes" -}}
{{- $v := .root.Values -}}
{{- if $v.temporal.tls.clientCertSecretName }}
- name: temporal-client-tls
  secret:
    secretName: {{ $v.temporal.tls.clientCertSecretName }}
    defaultMode: 0440
    items:
      - { key: tls.crt, path: tls.crt }
      - { key: tls.key, path: tls.key }
{{- end }}
{{- if $v.temporal.tls.caSecretName }}
- name: temporal-ca
  secret:
    secretName: {{ $v.temporal.tls.caSecretName }}
    defaultMode: 0440
    items:
      - { key: {{ $v.temporal.tls.caKey | quote }}, path: ca.crt }
{{- end }}
{{- if .all }}
{{- if $v.prometheus.bearerToken.secretName }}
- name: prometheus-credentials
  secret:
    secretName: {{ $v.prometheus.bearerToken.secretName }}
    defaultMode: 0440
    items:
      - { key: {{ $v.prometheus.bearerToken.key | quote }}, path: token }
{{- else if $v.prometheus.basicAuth.secretName }}
- name: prometheus-credentials
  secret:
    secretName: {{ $v.prometheus.basicAuth.secretName }}
    defaultMode: 0440
    items:
      - { key: {{ $v.prometheus.basicAuth.key | quote }}, path: basic-auth }
{{- end }}
{{- if $v.codec.keySecretName }}
- name: codec-key
  secret:
    secretName: {{ $v.codec.keySecretName }}
    defaultMode: 0440
    items:
      - { key: {{ $v.codec.key | quote }}, path: key }
{{- end }}
{{- if $v.gitops.credentialsSecretName }}
# Every key of the Secret is a file the rollouts' spec.gitops.repository.credentials may name.
- name: git-credentials
  secret:
    secretName: {{ $v.gitops.credentialsSecretName }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end -}}

{{- define "ramp-worker.secretMounts" -}}
{{- $v := .root.Values -}}
{{- $p := include "ramp-worker.paths" .root | fromYaml -}}
{{- if $v.temporal.tls.clientCertSecretName }}
- { name: temporal-client-tls, mountPath: {{ $p.clientTls }}, readOnly: true }
{{- end }}
{{- if $v.temporal.tls.caSecretName }}
- { name: temporal-ca, mountPath: {{ $p.ca }}, readOnly: true }
{{- end }}
{{- if and .all (or $v.prometheus.bearerToken.secretName $v.prometheus.basicAuth.secretName) }}
- { name: prometheus-credentials, mountPath: {{ $p.prometheus }}, readOnly: true }
{{- end }}
{{- if and .all $v.codec.keySecretName }}
- { name: codec-key, mountPath: {{ $p.codec }}, readOnly: true }
{{- end }}
{{- if and .all $v.gitops.credentialsSecretName }}
- { name: git-credentials, mountPath: {{ $p.git }}, readOnly: true }
{{- end }}
{{- end -}}

{{/* The container security context every container of the chart runs with (restricted Pod Security Standard). */}}
{{- define "ramp-worker.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ramp-worker.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}
