package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// Families whose records name product streams rather than the release: an image's
// packages are matched against several of their ecosystems at once.
const (
	redHat = "Red Hat"
	suse   = "SUSE"
)

// More reasons of an EcosystemGap, for the stream families.
const (
	// GapNoStreams: the image names no stream Tidewatch can match its packages
	// against (a RHEL major without known streams, no product of the SLES release
	// among the loaded records, or no OS to tell).
	GapNoStreams = "no product stream of its release is known"
	// GapModular: a modular package ("….module+el9.4.0+…") is built for one module
	// stream (nodejs:18, nodejs:20) of its appstream, and Red Hat's records do not
	// say which stream a fixed version is of: against nodejs:22's fix every
	// nodejs:20 build would look vulnerable, and against nodejs:20's every
	// nodejs:18 one clean. The rpmdb read here does not name the stream either.
	GapModular = "modular package: its module stream cannot be told, so it is not matched"
	// gapUnmappedPrefix begins the reason of packages that may come from content
	// sets naming no known stream.
	gapUnmappedPrefix = "content sets naming no known Red Hat stream: "
)

func isStreamFamily(ecosystem string) bool { return ecosystem == redHat || ecosystem == suse }

// Streams returns the ecosystems the OS packages of os are matched against, sorted:
// for RHEL/UBI its Streams, for SLES and SLE Micro every SUSE product ecosystem of
// its ProductRelease among idx's records; nil for any other distribution.
func Streams(idx *advisory.Index, os *inventory.OS) []string {
	if os == nil {
		return nil
	}
	switch os.Ecosystem {
	case redHat:
		return os.Streams
	case suse:
		return suseProducts(idx, os.ProductRelease)
	}
	return nil
}

// suseProducts are the SUSE ecosystems of release ("15 SP5"): each product or
// module of exactly that release ("SUSE:Linux Enterprise Module for Basesystem 15
// SP5", "SUSE:Linux Enterprise Server 15 SP5"), and its support-phase variants
// ("…15 SP5-LTSS"), whose fixes are the only ones a release past its general
// support gets. "…15 SP4" and "…15 SP5" are different releases, "5 SP5" not "15 SP5".
func suseProducts(idx *advisory.Index, release string) []string {
	if idx == nil || release == "" {
		return nil
	}
	var out []string
	for _, eco := range idx.EcosystemsOf(suse) {
		i := strings.LastIndex(eco, " "+release)
		if i < 0 {
			continue
		}
		// What follows the release: nothing, or a support phase ("-LTSS", "-ESPOS").
		if rest := eco[i+1+len(release):]; rest == "" || (strings.HasPrefix(rest, "-") && !strings.Contains(rest, " ")) {
			out = append(out, eco)
		}
	}
	return out
}

// matchStreams matches the packages of a stream family against every loaded
// stream of the image, by binary name in rpm order. A vulnerability several streams
// list is reported once, from the first stream (sorted) whose record affects the
// installed version. Streams the index holds no records of, content sets naming no
// known stream and modular packages are gaps; it returns the findings, the gaps and
// how many packages were matched.
func matchStreams(idx *advisory.Index, memo *Matcher, os *inventory.OS, family string, pkgs []inventory.Package) ([]Finding, []EcosystemGap, int) {
	if _, err := parseVersion("0", family); err != nil {
		return nil, []EcosystemGap{{Ecosystem: family, Packages: len(pkgs), Reason: GapNoSemantics}}, 0
	}
	var gaps []EcosystemGap
	if os != nil && family == redHat && len(os.UnmappedContentSets) > 0 {
		gaps = append(gaps, EcosystemGap{Ecosystem: family, Packages: len(pkgs), Reason: gapUnmappedPrefix + strings.Join(os.UnmappedContentSets, ", ")})
	}
	streams := Streams(idx, os)
	var loaded []lookup
	for _, s := range streams {
		if idx == nil || !idx.Covers(s) {
			gaps = append(gaps, EcosystemGap{Ecosystem: s, Packages: len(pkgs), Reason: GapNotLoaded})
			continue
		}
		loaded = append(loaded, lookupIn(idx, memo, s))
	}
	switch {
	case len(streams) == 0 && family == suse && (idx == nil || idx.Records(suse) == 0):
		return nil, sortedGaps(append(gaps, EcosystemGap{Ecosystem: family, Packages: len(pkgs), Reason: GapNotLoaded})), 0
	case len(streams) == 0:
		return nil, sortedGaps(append(gaps, EcosystemGap{Ecosystem: family, Packages: len(pkgs), Reason: GapNoStreams})), 0
	case len(loaded) == 0:
		return nil, sortedGaps(gaps), 0
	}
	var plain []inventory.Package
	modular := 0
	for _, p := range pkgs {
		if family == redHat && isModular(p.Version) {
			modular++
			continue
		}
		plain = append(plain, p)
	}
	if modular > 0 {
		gaps = append(gaps, EcosystemGap{Ecosystem: family, Packages: modular, Reason: GapModular})
	}
	findings, unparsable := matchEcosystem(firstOf(loaded), family, plain)
	if unparsable > 0 {
		gaps = append(gaps, EcosystemGap{Ecosystem: family, Packages: unparsable, Reason: GapBadVersion})
	}
	return findings, sortedGaps(gaps), len(plain) - unparsable
}

// sortedGaps sorts gaps by ecosystem, then reason, as Result.Gaps lists them.
func sortedGaps(gaps []EcosystemGap) []EcosystemGap {
	slices.SortFunc(gaps, func(a, b EcosystemGap) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Reason, b.Reason))
	})
	return gaps
}

// firstOf evaluates a package in every stream, in order, keeping each
// vulnerability's first template; sorted by ID, as one stream's are.
func firstOf(streams []lookup) lookup {
	if len(streams) == 1 {
		return streams[0]
	}
	return func(name, version string) ([]Finding, bool) {
		var out []Finding
		for _, evaluate := range streams {
			templates, parsed := evaluate(name, version)
			if !parsed {
				return nil, false
			}
			added := false
			for _, t := range templates {
				if !slices.ContainsFunc(out, func(f Finding) bool { return f.ID == t.ID }) {
					out = append(out, t)
					added = true
				}
			}
			if added {
				slices.SortStableFunc(out, func(a, b Finding) int { return cmp.Compare(a.ID, b.ID) })
			}
		}
		return out, true
	}
}

// isModular reports whether an rpm version-release is a module build: Red Hat's
// "1:20.11.1-1.module+el9.4.0+21011+abcdef12", AlmaLinux's "….module_el9…".
func isModular(version string) bool {
	return strings.Contains(version, ".module+el") || strings.Contains(version, ".module_el")
}
