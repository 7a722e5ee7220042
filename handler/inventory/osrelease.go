package inventory

import (
	"bufio"
	"bytes"
	"path"
	"strconv"
	"strings"

	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// maxLinkHops bounds symlink resolution.
const maxLinkHops = 8

// parseOSRelease reads the KEY=value lines of an os-release file.
func parseOSRelease(contents []byte) OSRelease {
	var r OSRelease
	s := bufio.NewScanner(bytes.NewReader(contents))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		value = unquote(strings.TrimSpace(value))
		switch strings.TrimSpace(key) {
		case "ID":
			r.ID = value
		case "VERSION_ID":
			r.VersionID = value
		case "VERSION_CODENAME":
			r.VersionCodename = value
		case "PRETTY_NAME":
			r.PrettyName = value
		}
	}
	return r
}

// unquote strips shell-style quotes and backslash escapes from an os-release value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// resolveOSRelease finds the effective os-release in the merged files, following
// symlinks (etc/os-release usually points at ../usr/lib/os-release).
func resolveOSRelease(files map[string]OSReleaseFile) (OSRelease, bool) {
	// os-release(5): etc/os-release, falling back to usr/lib/os-release.
	for _, start := range []string{"etc/os-release", "usr/lib/os-release"} {
		p := start
		for hop := 0; hop <= maxLinkHops; hop++ {
			f, ok := files[p]
			if !ok {
				break
			}
			if f.Release != nil {
				return *f.Release, true
			}
			p = resolveLink(p, f.LinkTarget)
		}
	}
	return OSRelease{}, false
}

// resolveLink returns the root-relative path a link at linkPath pointing at target
// names.
func resolveLink(linkPath, target string) string {
	if !strings.HasPrefix(target, "/") {
		target = path.Join("/", path.Dir(linkPath), target)
	}
	return strings.TrimPrefix(path.Clean(target), "/")
}

// ecosystem returns the OSV ecosystem of the OS packages, "" when unsupported.
// Names follow OSV: "Debian:<major>", "AlmaLinux:<major>", "Rocky Linux:<major>", and "Ubuntu:<YY.MM>" with ":LTS" appended for
// long-term-support releases (Canonical's rule: an April release of an even year).
func ecosystem(r OSRelease) string {
	switch r.ID {
	case "debian":
		major, _, _ := strings.Cut(r.VersionID, ".")
		if major == "" {
			return ""
		}
		return string(osvconstants.EcosystemDebian) + ":" + major
	case "ubuntu":
		year, month, ok := strings.Cut(r.VersionID, ".")
		n, err := strconv.Atoi(year)
		if !ok || err != nil || len(month) != 2 {
			return ""
		}
		name := string(osvconstants.EcosystemUbuntu) + ":" + r.VersionID
		if n%2 == 0 && month == "04" {
			name += ":LTS"
		}
		return name
	case "almalinux", "rocky":
		// AlmaLinux and Rocky advisories name the major release ("AlmaLinux:9",
		// "Rocky Linux:9"); VERSION_ID is the point release ("9.0").
		major, _, _ := strings.Cut(r.VersionID, ".")
		if major == "" {
			return ""
		}
		family := osvconstants.EcosystemAlmaLinux
		if r.ID == "rocky" {
			family = osvconstants.EcosystemRockyLinux
		}
		return string(family) + ":" + major
	default:
		// Red Hat's own records name product streams ("Red Hat:enterprise_linux:9::baseos")
		// that os-release does not tell; Azure Linux / CBL-Mariner have no OSV feed.
		return ""
	}
}
