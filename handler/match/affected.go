package match

import (
	"slices"

	"github.com/google/osv-scalibr/semantic"
	"github.com/tidewatch/tidewatch/handler/advisory"
)

// verdict is what one affected entry says about one installed version.
type verdict struct {
	affected bool
	// fixed is the version that resolves the entry for this installed version;
	// empty when the entry offers none.
	fixed string
}

// versionComparer compares an installed version with record versions of one
// ecosystem.
type versionComparer struct {
	ecosystem string
	installed semantic.Version
}

// compare returns the sign of installed - other, and false when other cannot be
// parsed.
func (c versionComparer) compare(other string) (int, bool) {
	if other == "0" {
		// OSV's "0" means "before every version", whatever the ecosystem's syntax.
		return 1, true
	}
	n, err := c.installed.CompareStr(other)
	if err != nil {
		return 0, false
	}
	return n, true
}

// parsedEvent is a range event with its version compared to the installed one.
type parsedEvent struct {
	event advisory.Event
	raw   string
	// version is the parsed event version, nil for "0".
	version semantic.Version
	// cmp is the sign of installed - event version.
	cmp int
}

// evaluate applies OSV range semantics to one affected entry: a version is affected
// when an ECOSYSTEM or SEMVER range's sorted events leave it inside an introduced
// interval (not at or past a fixed or limit event, not past a last_affected event),
// or when the entry lists it explicitly. GIT ranges carry no package versions and are
// ignored.
func evaluate(c versionComparer, entry *advisory.Affected) verdict {
	var (
		hit, unfixed bool
		fixes        []string
	)
	for _, r := range entry.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		events := c.parseEvents(r.Events)
		if !inRange(events) {
			continue
		}
		hit = true
		if fix := nextFix(events); fix != "" {
			fixes = append(fixes, fix)
		} else {
			unfixed = true
		}
	}
	if hit {
		if unfixed {
			return verdict{affected: true}
		}
		return verdict{affected: true, fixed: highest(c.ecosystem, fixes)}
	}
	for _, v := range entry.Versions {
		if n, ok := c.compare(v); ok && n == 0 {
			return verdict{affected: true, fixed: lowestFixAbove(c, entry)}
		}
	}
	return verdict{}
}

// parseEvents compares every event of a range with the installed version and sorts
// them by version, "0" first, as the OSV evaluation requires. Events whose version
// does not parse are dropped.
func (c versionComparer) parseEvents(events []advisory.Event) []parsedEvent {
	out := make([]parsedEvent, 0, len(events))
	for _, e := range events {
		raw := e.Version
		n, ok := c.compare(raw)
		if !ok {
			continue
		}
		pe := parsedEvent{event: e, raw: raw, cmp: n}
		if raw != "0" {
			v, err := parseVersion(raw, c.ecosystem)
			if err != nil {
				continue
			}
			pe.version = v
		}
		out = append(out, pe)
	}
	slices.SortStableFunc(out, func(a, b parsedEvent) int { return compareVersions(a.version, b.version) })
	return out
}

// compareVersions orders two parsed versions of one ecosystem; nil is OSV's "0",
// below everything.
func compareVersions(a, b semantic.Version) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	n, err := a.Compare(b)
	if err != nil {
		return 0
	}
	return n
}

// inRange walks sorted events as the OSV specification's evaluation does.
func inRange(events []parsedEvent) bool {
	affected := false
	for _, e := range events {
		switch {
		case e.event.Kind == advisory.EventIntroduced && e.cmp >= 0:
			affected = true
		case e.event.Kind == advisory.EventFixed && e.cmp >= 0:
			affected = false
		case e.event.Kind == advisory.EventLimit && e.cmp >= 0:
			affected = false
		case e.event.Kind == advisory.EventLastAffected && e.cmp > 0:
			affected = false
		}
	}
	return affected
}

// nextFix returns the lowest fixed version above the installed one, or "".
// Events are sorted, so the first such event is the lowest.
func nextFix(events []parsedEvent) string {
	for _, e := range events {
		if e.event.Kind == advisory.EventFixed && e.cmp < 0 {
			return e.raw
		}
	}
	return ""
}

// lowestFixAbove is the fix for a version matched only through the entry's explicit
// versions list: the lowest fixed event of any range above the installed version.
func lowestFixAbove(c versionComparer, entry *advisory.Affected) string {
	var fixes []string
	for _, r := range entry.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		if fix := nextFix(c.parseEvents(r.Events)); fix != "" {
			fixes = append(fixes, fix)
		}
	}
	return extreme(c.ecosystem, fixes, -1)
}

// highest returns the highest of versions of one ecosystem, "" for none.
func highest(ecosystem string, versions []string) string {
	return extreme(ecosystem, versions, 1)
}

// extreme returns the highest (sign 1) or lowest (sign -1) version; versions that do
// not parse lose.
func extreme(ecosystem string, versions []string, sign int) string {
	var (
		best       string
		bestParsed semantic.Version
	)
	for _, v := range versions {
		parsed, err := parseVersion(v, ecosystem)
		if err != nil {
			continue
		}
		if bestParsed == nil || compareVersions(parsed, bestParsed)*sign > 0 {
			best, bestParsed = v, parsed
		}
	}
	return best
}

// parseVersion parses a version of ecosystem with the ordering its packages use
// (advisory.VersionScheme: Azure Linux is ordered as Red Hat).
func parseVersion(raw, ecosystem string) (semantic.Version, error) {
	return semantic.Parse(raw, advisory.VersionScheme(ecosystem))
}
