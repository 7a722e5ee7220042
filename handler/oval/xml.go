package oval

import "encoding/xml"

// The OVAL 5.11 elements the conversion reads; encoding/xml matches local names,
// so the oval-definitions and linux-def namespaces need no prefixes here.

type document struct {
	XMLName   xml.Name `xml:"oval_definitions"`
	Generator struct {
		Timestamp string `xml:"timestamp"`
	} `xml:"generator"`
	Definitions []definition    `xml:"definitions>definition"`
	Tests       []rpminfoTest   `xml:"tests>rpminfo_test"`
	Objects     []rpminfoObject `xml:"objects>rpminfo_object"`
	States      []rpminfoState  `xml:"states>rpminfo_state"`
}

type definition struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Metadata struct {
		Title       string `xml:"title"`
		Description string `xml:"description"`
		References  []struct {
			RefID  string `xml:"ref_id,attr"`
			Source string `xml:"source,attr"`
		} `xml:"reference"`
		Patchable    string `xml:"patchable"`
		AdvisoryDate string `xml:"advisory_date"`
		AdvisoryID   string `xml:"advisory_id"`
		Severity     string `xml:"severity"`
	} `xml:"metadata"`
	Criteria criteria `xml:"criteria"`
}

// criteria nest; every criterion under a definition's criteria names one test. The
// published files use a single AND of one criterion; nested ones are flattened
// (each criterion is one affected package of the record).
type criteria struct {
	Operator  string      `xml:"operator,attr"`
	Criterion []criterion `xml:"criterion"`
	Nested    []criteria  `xml:"criteria"`
}

type criterion struct {
	TestRef string `xml:"test_ref,attr"`
}

// all returns the criteria's criterion elements, nested ones included, in order.
func (c criteria) all() []criterion {
	out := append([]criterion(nil), c.Criterion...)
	for _, n := range c.Nested {
		out = append(out, n.all()...)
	}
	return out
}

type rpminfoTest struct {
	ID     string `xml:"id,attr"`
	Object struct {
		Ref string `xml:"object_ref,attr"`
	} `xml:"object"`
	State struct {
		Ref string `xml:"state_ref,attr"`
	} `xml:"state"`
}

type rpminfoObject struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name"`
}

type rpminfoState struct {
	ID  string `xml:"id,attr"`
	EVR evr    `xml:"evr"`
}

type evr struct {
	Operation string `xml:"operation,attr"`
	Value     string `xml:",chardata"`
}

// The OSV JSON written for each definition (osv-schema 1.6 field names).

type osvRecord struct {
	SchemaVersion    string           `json:"schema_version"`
	ID               string           `json:"id"`
	Modified         string           `json:"modified"`
	Aliases          []string         `json:"aliases,omitempty"`
	Upstream         []string         `json:"upstream,omitempty"`
	Summary          string           `json:"summary,omitempty"`
	Details          string           `json:"details,omitempty"`
	Affected         []osvAffected    `json:"affected"`
	DatabaseSpecific databaseSpecific `json:"database_specific"`
}

type databaseSpecific struct {
	// Severity is the definition's rating ("Critical", "High", "Medium", "Low"),
	// read by match as a distribution rating.
	Severity   string `json:"severity,omitempty"`
	Patchable  string `json:"patchable,omitempty"`
	OVALID     string `json:"oval_id"`
	AdvisoryID string `json:"advisory_id,omitempty"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []osvRange `json:"ranges"`
}

type osvRange struct {
	Type   string  `json:"type"`
	Events []event `json:"events"`
}

type event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}
