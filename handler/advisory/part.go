package advisory

import (
	"strings"
	"time"
)

// part is one folder's decoded contents in one role, immutable once built: for an
// ecosystem folder its usable records by package, for the severity folder only the
// severity entries of its records by id.
type part struct {
	sum      [32]byte // sha256 of the blob it was decoded from
	records  int      // usable records (ecosystem role)
	entries  map[string]int
	packages map[packageKey][]*Affected
	// severity holds severity entries by record id: every record of the severity
	// folder that states one, or an ecosystem folder's CVE-* records.
	severity map[string][]Severity
	newest   time.Time
}

// folderRecord is one usable record of a folder with its affected entries.
type folderRecord struct {
	record  *Record
	entries []*Affected
}

// idSeverity is the severity of a record that is not usable for matching (no
// package: the severity folder's NVD records).
type idSeverity struct {
	id       string
	severity []Severity
}

// folderData is a folder as decoded, before it takes a role: its usable records in
// blob order, and the severity of the records that are not usable but state one.
type folderData struct {
	records  []folderRecord
	severity []idSeverity
}

// ecosystemPart builds the matching part of a folder: records by package, and the
// severity of its CVE-* records, the first of an id winning.
func ecosystemPart(d *folderData, sum [32]byte) *part {
	// Count each package's entries first, so every package's list is a slice of one
	// allocation instead of a slice grown by appends.
	counts := make(map[packageKey]int)
	total := 0
	for _, r := range d.records {
		for _, e := range r.entries {
			counts[packageKey{e.Ecosystem, packageName(e.Ecosystem, e.Package)}]++
			total++
		}
	}
	p := &part{
		sum:      sum,
		records:  len(d.records),
		entries:  make(map[string]int),
		packages: make(map[packageKey][]*Affected, len(counts)),
		severity: make(map[string][]Severity),
	}
	slab := make([]*Affected, total)
	for key, n := range counts {
		p.packages[key], slab = slab[:0:n], slab[n:]
	}
	for _, r := range d.records {
		rec := r.record
		// A loaded CVE-* record is a severity source for its CVE like the severity
		// folder's; other ids are never looked up.
		if len(rec.Severity) > 0 && strings.HasPrefix(rec.ID, "CVE-") {
			if _, ok := p.severity[rec.ID]; !ok {
				p.severity[rec.ID] = rec.Severity
			}
		}
		if rec.Modified.After(p.newest) {
			p.newest = rec.Modified
		}
		for _, e := range r.entries {
			key := packageKey{e.Ecosystem, packageName(e.Ecosystem, e.Package)}
			p.packages[key] = append(p.packages[key], e)
			p.entries[e.Ecosystem]++
		}
	}
	return p
}

// severityPart builds the severity folder's part: every record stating a severity,
// usable or not, by id.
func severityPart(d *folderData, sum [32]byte) *part {
	p := &part{sum: sum, severity: make(map[string][]Severity, len(d.severity)+len(d.records))}
	for _, r := range d.records {
		if len(r.record.Severity) > 0 {
			p.severity[r.record.ID] = r.record.Severity
		}
	}
	for _, s := range d.severity {
		p.severity[s.id] = s.severity
	}
	return p
}

// fromOSV converts decoded OSV records (nil slots skipped) into folderData:
// usable records with their entries, and the severity of the others that state one.
func fromOSV(decoded []*osvRecord, strs interner) *folderData {
	d := &folderData{}
	for _, r := range decoded {
		if r == nil {
			continue
		}
		if r.usable() {
			rec, entries := r.convert(strs)
			d.records = append(d.records, folderRecord{rec, entries})
			continue
		}
		if r.ID != "" && r.Withdrawn == "" && len(r.Severity) > 0 {
			d.severity = append(d.severity, idSeverity{strs.get(r.ID), internSeverity(r.Severity, strs)})
		}
	}
	return d
}

// keepForFolder keeps what a folder in either role needs: usable records and
// records stating a severity.
func keepForFolder(r *osvRecord) bool {
	return r.usable() || (r.ID != "" && r.Withdrawn == "" && len(r.Severity) > 0)
}
