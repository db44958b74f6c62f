{{/* The chart's name, or nameOverride. */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name of every resource: fullnameOverride, else the release name
when it already contains the chart name, else <release>-<chart>. */}}
{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vigil.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "vigil.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{/* The Service's DNS name inside the cluster: the admission webhook's host. */}}
{{- define "vigil.serviceHost" -}}
{{- printf "%s.%s.svc" (include "vigil.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "vigil.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Where a Secret is mounted: every referenced Secret once, whole. */}}
{{- define "vigil.secretDir" -}}
{{- printf "/etc/vigil/secrets/%s" . -}}
{{- end -}}

{{/* The names of the Secrets the config refers to, one per line, sorted and
unique: cluster tokens, API user hashes, API tokens, the session key. */}}
{{- define "vigil.secretNames" -}}
{{- $names := list -}}
{{- range .Values.auth.clusters -}}
{{- if .tokenSecret }}{{ $names = append $names .tokenSecret.name }}{{ end -}}
{{- end -}}
{{- range .Values.api.users -}}
{{- $names = append $names .hashSecret.name -}}
{{- end -}}
{{- range .Values.api.tokens -}}
{{- $names = append $names .tokenSecret.name -}}
{{- end -}}
{{- if .Values.api.sessionKeySecret.name -}}
{{- $names = append $names .Values.api.sessionKeySecret.name -}}
{{- end -}}
{{- range $names | uniq | sortAlpha }}
{{ . }}
{{- end -}}
{{- end -}}

{{/* Refuse combinations that cannot work, at template time. */}}
{{- define "vigil.validate" -}}
{{- if gt (int .Values.replicas) 1 -}}
{{- if ne .Values.store.driver "postgres" -}}
{{- fail "replicas > 1 needs store.driver: postgres (SQLite is one pod's file)" -}}
{{- end -}}
{{- if not .Values.api.sessionKeySecret.name -}}
{{- fail "replicas > 1 needs api.sessionKeySecret, so that a UI login is valid on every pod" -}}
{{- end -}}
{{- if and (not .Values.auth.clusters) (not .Values.auth.allowUnauthenticated) -}}
{{- fail "replicas > 1 needs auth.clusters: each pod would create its own first-run token" -}}
{{- end -}}
{{- if and (not .Values.api.users) (not .Values.api.tokens) -}}
{{- fail "replicas > 1 needs api.users or api.tokens: each pod would create its own admin password" -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.store.driver (list "sqlite" "postgres")) -}}
{{- fail "store.driver must be sqlite or postgres" -}}
{{- end -}}
{{- if and (eq .Values.store.driver "postgres") (not .Values.store.postgres.url) -}}
{{- fail "store.driver postgres needs store.postgres.url" -}}
{{- end -}}
{{- if and .Values.admission.enabled (not .Values.tls.enabled) -}}
{{- fail "admission.enabled needs tls.enabled: the API server calls admission webhooks over HTTPS only" -}}
{{- end -}}
{{- if and .Values.admission.certManager.enabled (not .Values.tls.enabled) -}}
{{- fail "admission.certManager.enabled needs tls.enabled" -}}
{{- end -}}
{{- if not (has .Values.admission.failurePolicy (list "Ignore" "Fail")) -}}
{{- fail "admission.failurePolicy must be Ignore or Fail" -}}
{{- end -}}
{{- range .Values.auth.clusters -}}
{{- if not .name }}{{ fail "every auth.clusters entry needs a name" }}{{ end -}}
{{- if and .certNames (not $.Values.tls.clientCA.secretName) -}}
{{- fail (printf "auth.clusters %s has certNames: set tls.clientCA.secretName" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Vigil's configuration: what the values decide, with .Values.config
merged on top. */}}
{{- define "vigil.config" -}}
{{- $tls := dict -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $tls "cert_file" "/etc/vigil/tls/tls.crt" -}}
{{- $_ := set $tls "key_file" "/etc/vigil/tls/tls.key" -}}
{{- if .Values.tls.clientCA.secretName -}}
{{- $_ := set $tls "client_ca_file" (printf "/etc/vigil/client-ca/%s" .Values.tls.clientCA.key) -}}
{{- end -}}
{{- end -}}
{{- $clusters := list -}}
{{- range .Values.auth.clusters -}}
{{- $c := dict "name" .name -}}
{{- if .tokenSecret -}}
{{- $_ := set $c "token_file" (printf "%s/%s" (include "vigil.secretDir" .tokenSecret.name) .tokenSecret.key) -}}
{{- end -}}
{{- if .certNames -}}
{{- $_ := set $c "cert_names" .certNames -}}
{{- end -}}
{{- $clusters = append $clusters $c -}}
{{- end -}}
{{- $auth := dict "allow_unauthenticated" .Values.auth.allowUnauthenticated -}}
{{- if $clusters }}{{ $_ := set $auth "clusters" $clusters }}{{ end -}}
{{- $api := dict -}}
{{- $users := list -}}
{{- range .Values.api.users -}}
{{- $users = append $users (dict "name" .name "role" .role "password_hash_file" (printf "%s/%s" (include "vigil.secretDir" .hashSecret.name) .hashSecret.key)) -}}
{{- end -}}
{{- if $users }}{{ $_ := set $api "users" $users }}{{ end -}}
{{- $tokens := list -}}
{{- range .Values.api.tokens -}}
{{- $tokens = append $tokens (dict "name" .name "role" .role "token_file" (printf "%s/%s" (include "vigil.secretDir" .tokenSecret.name) .tokenSecret.key)) -}}
{{- end -}}
{{- if $tokens }}{{ $_ := set $api "tokens" $tokens }}{{ end -}}
{{- if .Values.api.sessionKeySecret.name -}}
{{- $_ := set $api "session_key_file" (printf "%s/%s" (include "vigil.secretDir" .Values.api.sessionKeySecret.name) .Values.api.sessionKeySecret.key) -}}
{{- end -}}
{{- $store := dict "driver" .Values.store.driver -}}
{{- if eq .Values.store.driver "postgres" -}}
{{- $_ := set $store "url" .Values.store.postgres.url -}}
{{- end -}}
{{- $cfg := dict "listen" "0.0.0.0:8765" "data_dir" "/var/lib/vigil" "auth" $auth "store" $store -}}
{{- if $tls }}{{ $_ := set $cfg "tls" $tls }}{{ end -}}
{{- if $api }}{{ $_ := set $cfg "api" $api }}{{ end -}}
{{- if .Values.rules -}}
{{- $files := list -}}
{{- range $name, $_ := .Values.rules -}}
{{- $files = append $files (printf "/etc/vigil/rules.d/%s" $name) -}}
{{- end -}}
{{- $_ := set $cfg "rules" (dict "files" ($files | sortAlpha)) -}}
{{- end -}}
{{- $merged := mergeOverwrite $cfg (deepCopy (.Values.config | default dict)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* The shutdown grace in seconds, from config.shutdown (a Go duration in
s, m or h; default 30s). */}}
{{- define "vigil.shutdownSeconds" -}}
{{- $d := toString (default "30s" .Values.config.shutdown) -}}
{{- if not (regexMatch "^[0-9]+(s|m|h)$" $d) -}}
{{- fail (printf "config.shutdown %q: the chart takes whole seconds, minutes or hours here (30s, 2m, 1h)" $d) -}}
{{- end -}}
{{- $n := regexFind "^[0-9]+" $d | int -}}
{{- if hasSuffix "h" $d }}{{ mul $n 3600 }}{{ else if hasSuffix "m" $d }}{{ mul $n 60 }}{{ else }}{{ $n }}{{ end -}}
{{- end -}}
