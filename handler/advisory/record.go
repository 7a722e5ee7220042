package advisory

import (
	"encoding/json"
	"slices"
	"time"
)

// osvRecord holds only the OSV fields matching needs; everything else (details,
// references, credits) is skipped by the decoder.
type osvRecord struct {
	ID               string        `json:"id"`
	Modified         string        `json:"modified"`
	Withdrawn        string        `json:"withdrawn"`
	Aliases          []string      `json:"aliases"`
	Upstream         []string      `json:"upstream"`
	Related          []string      `json:"related"`
	Summary          string        `json:"summary"`
	Severity         []Severity    `json:"severity"`
	Affected         []osvAffected `json:"affected"`
	DatabaseSpecific osvRatings    `json:"database_specific"`
}

// osvRatings are the distribution ratings a database_specific or ecosystem_specific
// object may carry: Debian's tracker urgency, Ubuntu's priority, the RHEL family's
// severity ("Important"). Fields of another shape are ignored.
type osvRatings struct {
	Urgency  looseString `json:"urgency"`
	Priority looseString `json:"priority"`
	Severity looseString `json:"severity"`
}

// ratings returns the non-empty ratings, interned, in a fixed order.
func (r osvRatings) ratings(in interner) []Rating {
	var out []Rating
	for _, f := range []struct {
		kind  string
		value looseString
	}{{"urgency", r.Urgency}, {"priority", r.Priority}, {"severity", r.Severity}} {
		if f.value != "" {
			out = append(out, Rating{Kind: f.kind, Value: in.get(string(f.value))})
		}
	}
	return out
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []struct {
		Type   string     `json:"type"`
		Events []osvEvent `json:"events"`
	} `json:"ranges"`
	Versions          []string   `json:"versions"`
	Severity          []Severity `json:"severity"`
	EcosystemSpecific osvRatings `json:"ecosystem_specific"`
	DatabaseSpecific  osvRatings `json:"database_specific"`
}

type osvEvent struct {
	Introduced   string `json:"introduced"`
	Fixed        string `json:"fixed"`
	LastAffected string `json:"last_affected"`
	Limit        string `json:"limit"`
}

// looseString decodes a JSON string and ignores any other JSON value, so an
// ecosystem_specific field of an unexpected shape cannot reject a whole record.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = looseString(v)
	}
	return nil
}

// interner makes equal strings share one backing array; the index holds many
// repeats ("Debian:12", "0", "ECOSYSTEM", package names).
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

// usable reports whether a decoded record can contribute to matching.
func (r *osvRecord) usable() bool {
	if r.ID == "" || r.Withdrawn != "" {
		return false
	}
	for i := range r.Affected {
		if r.Affected[i].Package.Name != "" && r.Affected[i].Package.Ecosystem != "" {
			return true
		}
	}
	return false
}

// convert turns a usable decoded record into index entries, interning repeated strings.
func (r *osvRecord) convert(in interner) (*Record, []*Affected) {
	rec := &Record{
		ID: r.ID, Summary: r.Summary, Severity: internSeverity(r.Severity, in),
		Ratings: r.DatabaseSpecific.ratings(in),
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Modified); err == nil {
		rec.Modified = t
	}
	seen := make(map[string]bool, len(r.Aliases)+len(r.Upstream))
	for _, ids := range [][]string{r.Aliases, r.Upstream} {
		for _, id := range ids {
			if id != "" && id != r.ID && !seen[id] {
				seen[id] = true
				rec.Aliases = append(rec.Aliases, in.get(id))
			}
		}
	}
	for _, id := range r.Related {
		if id != "" && id != r.ID && !slices.Contains(rec.Related, id) {
			rec.Related = append(rec.Related, in.get(id))
		}
	}
	var out []*Affected
	for i := range r.Affected {
		a := &r.Affected[i]
		if a.Package.Name == "" || a.Package.Ecosystem == "" {
			continue
		}
		entry := &Affected{
			Record:    rec,
			Ecosystem: in.get(a.Package.Ecosystem),
			Package:   in.get(a.Package.Name),
			Severity:  internSeverity(a.Severity, in),
			Urgency:   in.get(string(a.EcosystemSpecific.Urgency)),
			Ratings:   slices.Concat(a.EcosystemSpecific.ratings(in), a.DatabaseSpecific.ratings(in)),
		}
		for _, v := range a.Versions {
			entry.Versions = append(entry.Versions, in.get(v))
		}
		for _, rg := range a.Ranges {
			converted := Range{Type: in.get(rg.Type), Events: make([]Event, 0, len(rg.Events))}
			for _, e := range rg.Events {
				ev := NewEvent(e.Introduced, e.Fixed, e.LastAffected, e.Limit)
				ev.Version = in.get(ev.Version)
				converted.Events = append(converted.Events, ev)
			}
			entry.Ranges = append(entry.Ranges, converted)
		}
		out = append(out, entry)
	}
	return rec, out
}

func internSeverity(in []Severity, strs interner) []Severity {
	if len(in) == 0 {
		return nil
	}
	out := make([]Severity, len(in))
	for i, s := range in {
		out[i] = Severity{Type: strs.get(s.Type), Score: strs.get(s.Score)}
	}
	return out
}
