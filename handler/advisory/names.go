package advisory

import "strings"

// packageName is the index key of a package name in ecosystem. PyPI names are
// compared as PEP 503 normalizes them (re.sub(r"[-_.]+", "-", name).lower()), since installed metadata and advisories spell them differently ("PyYAML",
// "pyyaml"); every other ecosystem's names are compared exactly.
func packageName(ecosystem, name string) string {
	if ecosystem != "PyPI" {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	inRun := false
	for _, r := range strings.ToLower(name) {
		separator := r == '-' || r == '_' || r == '.'
		switch {
		case separator && !inRun:
			b.WriteByte('-')
		case !separator:
			b.WriteRune(r)
		}
		inRun = separator
	}
	return b.String()
}

// Folder is the OSV export folder holding an ecosystem's records: the ecosystem up
// to its first colon ("Debian:12" → "Debian", "Go" → "Go").
func Folder(ecosystem string) string {
	folder, _, _ := strings.Cut(ecosystem, ":")
	return folder
}
