package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// memorySource is an OSV bulk export held in memory: ecosystem → records.
type memorySource map[string][]string

func (m memorySource) Open(_ context.Context, name string) (io.ReadCloser, error) {
	for eco, records := range m {
		if name != eco+"/all.zip" {
			continue
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i, r := range records {
			w, err := zw.Create(string(rune('a'+i)) + ".json")
			if err != nil {
				return nil, err
			}
			if _, err := io.WriteString(w, r); err != nil {
				return nil, err
			}
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return io.NopCloser(&buf), nil
	}
	return nil, fs.ErrNotExist
}

const (
	debianRecord = `{"id":"DEBIAN-CVE-2024-0727","modified":"2024-02-01T00:00:00Z","aliases":["CVE-2024-0727"],
"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]}]}`
	goRecord = `{"id":"GO-2022-1059","modified":"2024-05-20T00:00:00Z","aliases":["CVE-2022-32149"],
"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]}]}`
	stdlibRecord = `{"id":"GO-2024-2687","modified":"2024-04-03T00:00:00Z","aliases":["CVE-2023-45288"],
"affected":[{"package":{"ecosystem":"Go","name":"stdlib"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.21.9"}]}]}]}`
)

func loadIndex(t *testing.T, src memorySource, ecosystems ...string) *advisory.Index {
	t.Helper()
	idx, err := advisory.LoadFrom(context.Background(), src, ecosystems)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

var (
	debian12 = &inventory.OS{OSRelease: inventory.OSRelease{ID: "debian", VersionID: "12"}, Ecosystem: "Debian:12"}
	pmos     = &inventory.OS{OSRelease: inventory.OSRelease{ID: "postmarketos", VersionID: "v24.06"}} // apk-based, no OSV ecosystem
	libssl3  = inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", SourceName: "openssl",
		SourceVersion: "3.0.11-1~deb12u2", Type: "deb", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status"}
	xtext  = inventory.Package{Name: "golang.org/x/text", Version: "0.3.7", Type: "golang", Ecosystem: "Go", Location: "app/server"}
	stdlib = inventory.Package{Name: "stdlib", Version: "1.21.5", Type: "golang", Ecosystem: "Go", Location: "app/server"}
	musl   = inventory.Package{Name: "musl", Version: "1.2.5-r0", Type: "apk", Location: "lib/apk/db/installed"}
)

// assessment is what a test compares of a PlatformResult.
type assessment struct {
	Status         string
	OS             *inventory.OS
	AdvisorySource string
	Error          string
	Packages       map[string]int
	Findings       []string // ID on package
}

func assessmentOf(pr PlatformResult) assessment {
	a := assessment{Status: pr.Status, OS: pr.OS, AdvisorySource: pr.AdvisorySource, Error: pr.Error, Packages: pr.Packages}
	for _, f := range pr.Findings {
		a.Findings = append(a.Findings, f.ID+" on "+f.Package)
	}
	return a
}

func TestAssessStatuses(t *testing.T) {
	all := loadIndex(t, memorySource{"Debian": {debianRecord}, "Go": {goRecord, stdlibRecord}}, "Debian", "Go")
	debianOnly := loadIndex(t, memorySource{"Debian": {debianRecord}}, "Debian")
	goOnly := loadIndex(t, memorySource{"Go": {goRecord, stdlibRecord}}, "Go")
	tests := []struct {
		name string
		idx  *advisory.Index
		inv  inventory.Inventory
		want assessment
	}{
		{
			name: "an image without os-release whose Go packages are matched is scanned with OS none",
			idx:  all, inv: inventory.Inventory{Packages: []inventory.Package{stdlib, xtext}},
			want: assessment{Status: StatusScanned, AdvisorySource: "none", Packages: map[string]int{"Go": 2},
				Findings: []string{"CVE-2022-32149 on golang.org/x/text", "CVE-2023-45288 on stdlib"}},
		},
		{
			name: "an image with Debian and Go packages matches both",
			idx:  all, inv: inventory.Inventory{OS: debian12, Packages: []inventory.Package{libssl3, xtext}},
			want: assessment{Status: StatusScanned, OS: debian12, AdvisorySource: "Debian", Packages: map[string]int{"Debian:12": 1, "Go": 1},
				Findings: []string{"CVE-2022-32149 on golang.org/x/text", "CVE-2024-0727 on libssl3"}},
		},
		{
			name: "skipped files make a platform incomplete and keep its findings",
			idx:  all, inv: inventory.Inventory{OS: debian12, Packages: []inventory.Package{libssl3},
				Skipped: []inventory.SkippedFile{{Path: "var/lib/dpkg/status.d/big", LayerIndex: 2, Reason: "larger than the 100 MiB cap"}}},
			want: assessment{Status: StatusIncomplete, OS: debian12, AdvisorySource: "Debian", Packages: map[string]int{"Debian:12": 1},
				Error:    "1 file not inventoried: var/lib/dpkg/status.d/big (layer 2: larger than the 100 MiB cap)",
				Findings: []string{"CVE-2024-0727 on libssl3"}},
		},
		{
			name: "a Debian image whose only status file was skipped is incomplete, not unsupported",
			idx:  all, inv: inventory.Inventory{OS: debian12,
				Skipped: []inventory.SkippedFile{{Path: "var/lib/dpkg/status", LayerIndex: 0, Reason: "a sparse file"}}},
			want: assessment{Status: StatusIncomplete, OS: debian12, AdvisorySource: "Debian", Packages: map[string]int{},
				Error: "1 file not inventoried: var/lib/dpkg/status (layer 0: a sparse file)"},
		},
		{
			name: "an OS without an advisory source and no application package is unsupported",
			idx:  all, inv: inventory.Inventory{OS: pmos, Packages: []inventory.Package{musl}},
			want: assessment{Status: StatusUnsupported, OS: pmos, AdvisorySource: "none", Packages: map[string]int{"none": 1},
				Error: "OS postmarketos v24.06: no advisory source (1 OS package not matched)"},
		},
		{
			name: "an OS without an advisory source and nothing inventoried says so without a count",
			idx:  all, inv: inventory.Inventory{OS: pmos},
			want: assessment{Status: StatusUnsupported, OS: pmos, AdvisorySource: "none", Packages: map[string]int{},
				Error: "OS postmarketos v24.06: no advisory source"},
		},
		{
			name: "an OS without an advisory source next to matched Go packages is scanned, with a note",
			idx:  all, inv: inventory.Inventory{OS: pmos, Packages: []inventory.Package{musl, xtext}},
			want: assessment{Status: StatusScanned, OS: pmos, AdvisorySource: "none", Packages: map[string]int{"none": 1, "Go": 1},
				Error:    "OS postmarketos v24.06: no advisory source (1 OS package not matched)",
				Findings: []string{"CVE-2022-32149 on golang.org/x/text"}},
		},
		{
			name: "Go packages without Go advisories loaded are unsupported, naming the ecosystem",
			idx:  debianOnly, inv: inventory.Inventory{Packages: []inventory.Package{stdlib, xtext}},
			want: assessment{Status: StatusUnsupported, AdvisorySource: "none", Packages: map[string]int{"Go": 2},
				Error: "no os-release; Go: 2 packages not matched: no advisories loaded for it"},
		},
		{
			name: "Go packages left unmatched next to matched Debian ones are noted",
			idx:  debianOnly, inv: inventory.Inventory{OS: debian12, Packages: []inventory.Package{libssl3, xtext}},
			want: assessment{Status: StatusScanned, OS: debian12, AdvisorySource: "Debian", Packages: map[string]int{"Debian:12": 1, "Go": 1},
				Error:    "Go: 1 package not matched: no advisories loaded for it",
				Findings: []string{"CVE-2024-0727 on libssl3"}},
		},
		{
			name: "a Debian image scanned without Debian advisories loaded names no advisory source",
			idx:  goOnly, inv: inventory.Inventory{OS: debian12, Packages: []inventory.Package{libssl3, xtext}},
			want: assessment{Status: StatusScanned, OS: debian12, AdvisorySource: "none", Packages: map[string]int{"Debian:12": 1, "Go": 1},
				Error:    "Debian:12: 1 package not matched: no advisories loaded for it",
				Findings: []string{"CVE-2022-32149 on golang.org/x/text"}},
		},
		{
			name: "an image with no os-release and no package is unsupported",
			idx:  all, inv: inventory.Inventory{},
			want: assessment{Status: StatusUnsupported, AdvisorySource: "none", Packages: map[string]int{},
				Error: "no os-release and no application packages found: nothing to match"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assess(tt.idx, &tt.inv, match.Match(tt.idx, tt.inv.Packages))
			if diff := cmp.Diff(tt.want, assessmentOf(got)); diff != "" {
				t.Errorf("assess() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlatformResultJSONHasArraysAndANullOS(t *testing.T) {
	pr := assess(nil, &inventory.Inventory{Packages: []inventory.Package{}}, match.Result{})
	b, err := json.Marshal(pr)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"os": "null", "advisorySource": `"none"`, "findings": "[]", "skipped": "[]", "unmatched": "[]", "packages": "{}"} {
		t.Run(key+" is "+want, func(t *testing.T) {
			if string(got[key]) != want {
				t.Errorf("%s = %s, want %s", key, got[key], want)
			}
		})
	}
}
