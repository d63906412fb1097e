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
The operator's RBAC rules: the ClusterRole rules of files/rbac/role.yaml, a copy of the
controller-gen output config/rbac/role.yaml kept in sync by `make chart-rbac` (test/chart checks it).
*/}}
{{- define "torua.managerRules" -}}
{{- $content := .Files.Get "files/rbac/role.yaml" }}
{{- if not $content }}
{{- fail "files/rbac/role.yaml is missing: run `make manifests chart-rbac`" }}
{{- end }}
{{- $rules := list }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $content -1 }}
{{- $obj := fromYaml $doc }}
{{- if eq (get $obj "kind") "ClusterRole" }}
{{- $rules = concat $rules (get $obj "rules") }}
{{- end }}
{{- end }}
{{- if not $rules }}
{{- fail "files/rbac/role.yaml holds no ClusterRole rules" }}
{{- end }}
{{- toYaml $rules }}
{{- end }}
