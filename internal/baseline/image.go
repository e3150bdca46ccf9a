package baseline

import "strings"

// ImageRef is a container image reference split into its parts, with
// Docker's defaults applied (docker.io, library/, latest).
type ImageRef struct {
	Registry   string
	Repository string
	Tag        string
	Digest     string
}

// Version is the digest when pinned, else the tag.
func (r ImageRef) Version() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// ParseImage splits an image reference the way container runtimes resolve
// it: the first path component is a registry only if it has a dot or a
// colon or is "localhost"; otherwise the registry is docker.io, and a
// single-component repository is under library/.
func ParseImage(s string) ImageRef {
	var r ImageRef
	if i := strings.Index(s, "@"); i >= 0 {
		r.Digest = s[i+1:]
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		r.Tag = s[i+1:]
		s = s[:i]
	}
	first, rest, hasSlash := strings.Cut(s, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = first, rest
	} else {
		r.Registry, r.Repository = "docker.io", s
		if !hasSlash {
			r.Repository = "library/" + s
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r
}
