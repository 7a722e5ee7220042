package advisory

import "strings"

// packageName is the index key of a package name in ecosystem. PyPI names are
// compared as PEP 503 normalizes them (re.sub(r"[-_.]+", "-", name).lower()), since installed metadata and advisories spell them differently ("PyYAML",
// "pyyaml"); NuGet package ids are case-insensitive (nuget.org serves
// "Newtonsoft.Json" as "newtonsoft.json"), so they compare lower-cased; every
// other ecosystem's names are compared exactly.
func packageName(ecosystem, name string) string {
	if ecosystem == "NuGet" {
		return strings.ToLower(name)
	}
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

// VersionScheme returns the ecosystem name whose version ordering (osv-scalibr
// semantic) compares versions of ecosystem. Azure Linux and CBL-Mariner ("Azure
// Linux:3.0") are rpm distributions ordered as Red Hat's; scalibr's semantic has no
// entry of its own for them. Every other name is returned unchanged.
func VersionScheme(ecosystem string) string {
	family, _, _ := strings.Cut(ecosystem, ":")
	if family == "Azure Linux" {
		return "Red Hat"
	}
	return ecosystem
}

// Folder is the OSV export folder holding an ecosystem's records: the ecosystem up
// to its first colon ("Debian:12" → "Debian", "Go" → "Go").
func Folder(ecosystem string) string {
	folder, _, _ := strings.Cut(ecosystem, ":")
	return folder
}
