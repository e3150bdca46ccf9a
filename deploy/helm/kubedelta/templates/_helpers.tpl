{{/*
Helpers. The chart keeps to a small part of Helm's template language
(include, toYaml, nindent, indent, quote, default, trunc, trimSuffix, printf
and the text/template built-ins) so that deploy/deploy_test.go can render it
without Helm.
*/}}

{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "kubedelta.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name, followed by the chart name
unless they are the same. */}}
{{- define "kubedelta.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if eq $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubedelta.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubedelta.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubedelta.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{ include "kubedelta.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kubedelta.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubedelta.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubedelta.claimName" -}}
{{- default (printf "%s-data" (include "kubedelta.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}
