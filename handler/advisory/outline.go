package advisory

import "encoding/json"

// Outline is what a sync needs to bound a record before it is accepted: its id and
// the sizes the index would hold. It is read with the decoder's own record type, so a
// record a sync accepts is one the index decodes.
type Outline struct {
	ID string
	// Ranges and Versions count the ranges and listed versions of every affected entry.
	Ranges, Versions int
	// LongestVersion is the length of the longest listed version, LongestEvent that of
	// the longest range event (introduced, fixed, last_affected or limit).
	LongestVersion, LongestEvent int
}

// OutlineRecord decodes one OSV record as the index does and outlines it.
func OutlineRecord(data []byte) (Outline, error) {
	var r osvRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return Outline{ID: probeID(data)}, err
	}
	o := Outline{ID: r.ID}
	for _, a := range r.Affected {
		o.Ranges += len(a.Ranges)
		o.Versions += len(a.Versions)
		for _, v := range a.Versions {
			o.LongestVersion = max(o.LongestVersion, len(v))
		}
		for _, rg := range a.Ranges {
			for _, e := range rg.Events {
				o.LongestEvent = max(o.LongestEvent, len(e.Introduced), len(e.Fixed), len(e.LastAffected), len(e.Limit))
			}
		}
	}
	return o, nil
}

// probeID reads just the id of a record that does not decode whole, so a rejection
// can name it.
func probeID(data []byte) string {
	var probe struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(data, &probe)
	return probe.ID
}
