{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "torua.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name prefix of the operator's resources: <release>-<chart> unless the release name contains it. */}}
{{- define "torua.fullname" -}}
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

{{- define "torua.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource of the release. */}}
{{- define "torua.commonLabels" -}}
helm.sh/chart: {{ include "torua.chart" . }}
app.kubernetes.io/name: {{ include "torua.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels on the operator's resources. */}}
{{- define "torua.labels" -}}
{{ include "torua.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels selecting the operator's pods. */}}
{{- define "torua.selectorLabels" -}}
app.kubernetes.io/name: {{ include "torua.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "torua.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "torua.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The torua image reference. */}}
{{- define "torua.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The rules of a role in config/rbac, from its copy in files/rbac (`make chart-rbac` keeps the
copies in sync; test/chart checks them), so the chart grants what kustomize grants:
  include "torua.rules" (list $ "role.yaml")
role.yaml is controller-gen's output from the operator's +kubebuilder:rbac markers.
*/}}
{{- define "torua.rules" -}}
{{- $root := index . 0 }}
{{- $file := printf "files/rbac/%s" (index . 1) }}
{{- $content := $root.Files.Get $file }}
{{- if not $content }}
{{- fail (printf "%s is missing: run `make manifests`" $file) }}
{{- end }}
{{- $rules := list }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $content -1 }}
{{- $obj := fromYaml $doc }}
{{- if has (get $obj "kind") (list "Role" "ClusterRole") }}
{{- $rules = concat $rules (get $obj "rules") }}
{{- end }}
{{- end }}
{{- if not $rules }}
{{- fail (printf "%s holds no Role or ClusterRole rules" $file) }}
{{- end }}
{{- toYaml $rules }}
{{- end }}
