{{- define "nfs.image" -}}
{{- $repo := .image.repository -}}
{{- if .root.Values.global.imageRegistry -}}
{{- $repo = printf "%s/%s" .root.Values.global.imageRegistry (regexReplaceAll "^[^/]+/" $repo "") -}}
{{- end -}}
{{- printf "%s:%s" $repo .image.tag -}}
{{- end -}}
