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
// Names follow OSV: "Debian:<major>", "Ubuntu:<YY.MM>" with ":LTS" appended for
// long-term-support releases (Canonical's rule: an April release of an even year),
// "Alpine:v<major>.<minor>", "Wolfi" and "Chainguard" told apart by ID (both
// apk-based, as osv-scalibr's ecosystem detection tells them), "AlmaLinux:<major>",
// "Rocky Linux:<major>", and "Azure Linux:<major.minor>" for Azure Linux and
// CBL-Mariner (as osv-scalibr names both; the advisories come from Microsoft's OVAL),
// "openSUSE:Leap <X.Y>" and "openSUSE:Tumbleweed"; the families "Red Hat" (RHEL,
// UBI) and "SUSE" (SLES, SLE Micro), whose images are matched against product
// streams. Amazon Linux is "" (no advisory source): see the default case.
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
	case "alpine":
		// Alpine's advisories are per release branch: 3.4.0 and 3.4.6 are v3.4.
		major, rest, ok := strings.Cut(r.VersionID, ".")
		minor, _, _ := strings.Cut(rest, ".")
		if !ok || !isDigits(major) || !isDigits(minor) {
			return ""
		}
		return string(osvconstants.EcosystemAlpine) + ":v" + major + "." + minor
	case "wolfi":
		// Rolling distributions: one ecosystem whatever VERSION_ID (a build date) says.
		return string(osvconstants.EcosystemWolfi)
	case "chainguard":
		return string(osvconstants.EcosystemChainguard)
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
	case "azurelinux", "mariner":
		// Azure Linux 3.0 and CBL-Mariner 2.0: VERSION_ID is "3.0" / "2.0".
		major, rest, ok := strings.Cut(r.VersionID, ".")
		minor, _, _ := strings.Cut(rest, ".")
		if !ok || !isDigits(major) || !isDigits(minor) {
			return ""
		}
		return "Azure Linux:" + major + "." + minor
	case "opensuse-leap":
		// OSV's openSUSE records name the Leap release: "openSUSE:Leap 15.5" (as
		// osv-scalibr names it; VERSION_ID alone matches no record).
		major, rest, ok := strings.Cut(r.VersionID, ".")
		if !ok || !isDigits(major) || !isDigits(rest) {
			return ""
		}
		return string(osvconstants.EcosystemOpenSUSE) + ":Leap " + r.VersionID
	case "opensuse-tumbleweed":
		// Rolling: VERSION_ID is a snapshot date; OSV has one "openSUSE:Tumbleweed".
		return string(osvconstants.EcosystemOpenSUSE) + ":Tumbleweed"
	case "rhel":
		// Red Hat's records name product streams ("Red Hat:enterprise_linux:9::baseos",
		// "...::appstream"), and the rpmdb does not say which stream a package came
		// from: os-release's CPE_NAME says baseos (osv-scalibr's choice), which would
		// leave appstream packages unmatched. The family is the ecosystem; the image's
		// streams are decided with its content manifests (streams.go).
		if !isDigits(strings.Split(r.VersionID, ".")[0]) {
			return ""
		}
		return string(osvconstants.EcosystemRedHat)
	case "sles", "sle-micro", "sl-micro":
		// SUSE's records name products and modules ("SUSE:Linux Enterprise Module
		// for Basesystem 15 SP5", "SUSE:Linux Enterprise Micro 5.5"), not the
		// release osv-scalibr's "SUSE:15.5" would name, which no record has. The
		// family is the ecosystem; packages are matched against every product of the
		// release (ProductRelease).
		if suseProductRelease(r) == "" {
			return ""
		}
		return string(osvconstants.EcosystemSUSE)
	default:
		// No advisory source, on purpose (see README "Coverage"): amzn (Amazon
		// Linux) has no OSV ecosystem (osv-schema lists none), nor has any other
		// rpm distribution not named above.
		return ""
	}
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
