package advisory

import (
	"slices"
	"strings"
	"time"
)

// EventKind says which OSV range event an Event is.
type EventKind uint8

// The OSV range event kinds.
const (
	EventIntroduced EventKind = iota + 1
	EventFixed
	EventLastAffected
	EventLimit
)

// Event is one OSV range event: its kind and the version it names. (One string, not
// one field per kind: the index holds hundreds of thousands of events.)
type Event struct {
	Kind    EventKind
	Version string
}

// NewEvent is the event of an OSV event object whose fields are introduced, fixed,
// last_affected and limit; the first non-empty one decides (OSV sets exactly one).
// An object with none set is the zero Event, which matches nothing.
func NewEvent(introduced, fixed, lastAffected, limit string) Event {
	for i, v := range [...]string{introduced, fixed, lastAffected, limit} {
		if v != "" {
			return Event{Kind: EventKind(i + 1), Version: v}
		}
	}
	return Event{}
}

// Introduced, Fixed, LastAffected and Limit return the event's version when it is
// of that kind, else "".
func (e Event) Introduced() string   { return e.of(EventIntroduced) }
func (e Event) Fixed() string        { return e.of(EventFixed) }
func (e Event) LastAffected() string { return e.of(EventLastAffected) }
func (e Event) Limit() string        { return e.of(EventLimit) }

func (e Event) of(k EventKind) string {
	if e.Kind == k {
		return e.Version
	}
	return ""
}

// Range is one OSV affected range: its type ("ECOSYSTEM", "SEMVER", "GIT") and its
// events in record order.
type Range struct {
	Type   string
	Events []Event
}

// Severity is one OSV severity entry: Type "CVSS_V3", "CVSS_V4", "Ubuntu", … and
// Score, the vector or rating as the record states it.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Record is the part of an OSV record shared by all of its affected entries.
type Record struct {
	// ID is the record id ("DSA-5678-1", "DEBIAN-CVE-2024-0727", "GO-2022-1059").
	ID string
	// Aliases are the record's aliases followed by its upstream ids, without
	// duplicates, in record order.
	Aliases []string
	// Summary is the record's one-line summary, possibly empty.
	Summary string
	// Related are the ids of the record's `related` list (an ALSA's CVEs), without
	// duplicates, in record order.
	Related []string
	// Severity are the record-level severity entries.
	Severity []Severity
	// Ratings are the distribution ratings of the record's database_specific.
	Ratings []Rating
	// Modified is the record's modified time, zero if it had none.
	Modified time.Time
}

// Affected is one affected[] entry of a record, for one package of one ecosystem.
type Affected struct {
	Record *Record
	// Ecosystem is the package's OSV ecosystem ("Debian:12").
	Ecosystem string
	// Package is the package name as the record names it (a source package for Debian).
	Package string
	Ranges  []Range
	// Versions lists explicitly affected versions.
	Versions []string
	// Severity are per-package severity entries (OSV 1.5+), usually empty.
	Severity []Severity
	// Urgency is ecosystem_specific.urgency as distribution trackers state it
	// ("unimportant", "low", "medium", "high", "end-of-life", …), empty if absent.
	Urgency string
	// Ratings are the distribution ratings of the entry's ecosystem_specific, then
	// its database_specific (Debian urgency, RHEL-family severity, …).
	Ratings []Rating
}

// Rating is one distribution rating word a record carries: Kind is the field it
// came from ("urgency", "priority", "severity"), Value the word as stated
// ("medium", "Important", "not yet assigned").
type Rating struct {
	Kind  string
	Value string
}

type packageKey struct {
	ecosystem string
	name      string
}

// Index is an immutable set of decoded advisories, safe for concurrent use. It is
// made of one decoded part per loaded folder; a Loader shares the parts between the
// indexes it builds, so each folder is decoded once however many indexes use it.
type Index struct {
	generation string
	newest     time.Time
	ecosystems []string         // the loaded ecosystem directories, sorted
	parts      []*part          // by ecosystem directory, in ecosystems order
	byFolder   map[string]*part // the same parts by directory
	// severityPart is the severity folder's, nil when none was loaded.
	severityPart *part
}

// Generation is a stable hash of the loaded data: the same archives give the same
// generation, any change to them gives another.
func (x *Index) Generation() string { return x.generation }

// Newest is the newest `modified` time among the loaded records.
func (x *Index) Newest() time.Time { return x.newest }

// Covers reports whether any loaded record has an affected entry for ecosystem
// ("Debian:12"); a scan for an ecosystem the index does not cover has no data to
// match against.
func (x *Index) Covers(ecosystem string) bool {
	for _, p := range x.parts {
		if p.entries[ecosystem] > 0 {
			return true
		}
	}
	return false
}

// EcosystemsOf lists, sorted and once each, the ecosystems of family ("SUSE") that
// loaded records have affected entries for ("SUSE:Linux Enterprise Server 15 SP5").
func (x *Index) EcosystemsOf(family string) []string {
	var out []string
	for _, p := range x.parts {
		for eco, n := range p.entries {
			if n > 0 && strings.HasPrefix(eco, family+":") && !slices.Contains(out, eco) {
				out = append(out, eco)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Affected returns the affected entries for a package of an ecosystem
// ("Debian:12", "openssl"); PyPI names match PEP 503-normalized. The slice is
// shared: callers must not modify it.
func (x *Index) Affected(ecosystem, name string) []*Affected {
	key := packageKey{ecosystem, packageName(ecosystem, name)}
	var out []*Affected
	shared := true
	for _, p := range x.parts {
		found := p.packages[key]
		switch {
		case len(found) == 0:
		case out == nil:
			out = found
		case shared:
			// A record listed in two folders (a GHSA for PyPI and npm) has entries in
			// both: concatenate in folder order, as one merged map would hold them.
			out = append(slices.Clip(slices.Clone(out)), found...)
			shared = false
		default:
			out = append(out, found...)
		}
	}
	return out
}

// SeverityOf returns the severity entries (CVSS vectors) the loaded CVE record with
// id ("CVE-2024-1234") states, from the severity folder first, nil when no loaded
// record has that id or it states none. The slice is
// shared: callers must not modify it.
func (x *Index) SeverityOf(id string) []Severity {
	if x == nil {
		return nil
	}
	if x.severityPart != nil {
		if s, ok := x.severityPart.severity[id]; ok {
			return s
		}
	}
	for _, p := range x.parts {
		if s, ok := p.severity[id]; ok {
			return s
		}
	}
	return nil
}

// Records is the number of usable (not withdrawn) records loaded from an ecosystem
// directory ("Debian").
func (x *Index) Records(ecosystemDir string) int {
	if p := x.byFolder[ecosystemDir]; p != nil {
		return p.records
	}
	return 0
}
