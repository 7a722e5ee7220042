package inventory

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// redHatFamily is the OSV ecosystem family of Red Hat's records; a record's
// ecosystem names a product stream under it ("Red Hat:enterprise_linux:9::baseos").
const redHatFamily = "Red Hat"

// suseFamily is the family of SUSE's records, which name products and modules
// ("SUSE:Linux Enterprise Module for Basesystem 15 SP5").
const suseFamily = "SUSE"

// DefaultStreams is the StreamsFrom of a RHEL image matched against its major's
// default streams because it carries no content manifest.
const DefaultStreams = "default streams (no content manifest)"

// Content set names, as Red Hat's repository-to-cpe.json keys them. The channel
// names the CPE and so the OSV ecosystem: "rhel-9-for-x86_64-baseos-rpms" is
// cpe:/o:redhat:enterprise_linux:9::baseos, an EUS set
// "rhel-9-for-x86_64-appstream-eus-rpms__9_DOT_2" is cpe:/a:redhat:rhel_eus:9.2::appstream.
// UBI's repositories ("ubi-9-baseos-rpms", "ubi-9-for-x86_64-appstream-rpms") carry
// a subset of the same builds and are mapped to the same streams.
var (
	rhelContentSet = regexp.MustCompile(`^(?:rhel|ubi)-([0-9]+)-(?:for-[a-z0-9_]+-)?(baseos|appstream)-rpms$`)
	eusContentSet  = regexp.MustCompile(`^rhel-([0-9]+)-for-[a-z0-9_]+-(baseos|appstream)-eus-rpms__([0-9]+)_DOT_([0-9]+)$`)
	crbContentSet  = regexp.MustCompile(`^codeready-builder-for-(?:rhel|ubi)-([0-9]+)-[a-z0-9_]+-rpms$`)
	// Source and debug repositories install nothing an rpmdb lists as a binary.
	sourceOrDebugSet = regexp.MustCompile(`-(?:source|debug)(?:-rpms)?(?:__[0-9]+_DOT_[0-9]+)?$`)
)

// redHatStream is the OSV ecosystem of a content set's packages, false when the
// set names no stream Tidewatch knows. An EUS set also yields its major's main
// stream: Red Hat's guidelines say to check the main stream where the EUS one has
// no fix (yet).
func redHatStream(contentSet string) ([]string, bool) {
	if m := rhelContentSet.FindStringSubmatch(contentSet); m != nil && hasStreams(m[1]) {
		return []string{mainStream(m[1], m[2])}, true
	}
	if m := eusContentSet.FindStringSubmatch(contentSet); m != nil && hasStreams(m[1]) && m[1] == m[3] {
		return []string{redHatFamily + ":rhel_eus:" + m[3] + "." + m[4] + "::" + m[2], mainStream(m[1], m[2])}, true
	}
	if m := crbContentSet.FindStringSubmatch(contentSet); m != nil && hasStreams(m[1]) {
		return []string{mainStream(m[1], "crb")}, true
	}
	return nil, false
}

// hasStreams reports whether RHEL major has the channel-named streams mapped here:
// RHEL 8 and 9. RHEL 10's CPEs drop the channel (cpe:/o:redhat:enterprise_linux:10.0)
// and RHEL 7's name "server"; Tidewatch has seen no OSV record of either.
func hasStreams(major string) bool { return major == "8" || major == "9" }

func mainStream(major, channel string) string {
	return redHatFamily + ":enterprise_linux:" + major + "::" + channel
}

// addStreams decides, for a RHEL/UBI image, which Red Hat streams its packages are
// matched against: every stream its content manifests' sets name, else its major's
// BaseOS and AppStream (every RHEL 8/9 install and UBI image enables both). A SLES
// or SLE Micro image gets the product release its SUSE products end in.
func addStreams(os *OS, manifests map[string][]string) {
	switch os.Ecosystem {
	case redHatFamily:
		addRedHatStreams(os, manifests)
	case suseFamily:
		os.ProductRelease = suseProductRelease(os.OSRelease)
	}
}

func addRedHatStreams(os *OS, manifests map[string][]string) {
	streams := map[string]bool{}
	unmapped := map[string]bool{}
	paths := slices.Sorted(maps.Keys(manifests))
	for _, p := range paths {
		for _, set := range manifests[p] {
			switch s, ok := redHatStream(set); {
			case ok:
				for _, eco := range s {
					streams[eco] = true
				}
			case !sourceOrDebugSet.MatchString(set):
				unmapped[set] = true
			}
		}
	}
	if len(paths) > 0 {
		os.StreamsFrom = strings.Join(paths, ", ")
	} else {
		major, _, _ := strings.Cut(os.VersionID, ".")
		if hasStreams(major) {
			streams[mainStream(major, "baseos")] = true
			streams[mainStream(major, "appstream")] = true
		}
		os.StreamsFrom = DefaultStreams
	}
	os.Streams = slices.Sorted(maps.Keys(streams))
	os.UnmappedContentSets = slices.Sorted(maps.Keys(unmapped))
	if len(os.UnmappedContentSets) == 0 {
		os.UnmappedContentSets = nil
	}
}

// suseProductRelease is the release SUSE's product ecosystems end in: SLES 15 SP5
// (VERSION_ID "15.5") is "15 SP5", the first service pack's predecessor 15.0 is
// "15", SLES 16 is dotted ("16.0"); SLE Micro 5.5 ("sle-micro") is "Micro 5.5"
// and SUSE Linux Micro 6.0 ("sl-micro") "Micro 6.0", as SUSE names those products
// ("SUSE:Linux Enterprise Micro 5.5", "SUSE:Linux Micro 6.0").
func suseProductRelease(r OSRelease) string {
	major, minor, _ := strings.Cut(r.VersionID, ".")
	switch {
	case !isDigits(major) || (minor != "" && !isDigits(minor)):
		return ""
	case r.ID == "sle-micro" || r.ID == "sl-micro":
		return "Micro " + r.VersionID
	case major >= "16" && len(major) == 2, len(major) > 2:
		return r.VersionID
	case minor == "" || minor == "0":
		return major
	}
	return major + " SP" + minor
}
