package oval_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/oval"
)

// converted is the part of a converted record the tests read, decoded here with
// the OSV field names, not through the package's own types.
type converted struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Upstream []string `json:"upstream"`
	Summary  string   `json:"summary"`
	Modified string   `json:"modified"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
	DatabaseSpecific struct {
		Severity  string `json:"severity"`
		Patchable string `json:"patchable"`
		OVALID    string `json:"oval_id"`
	} `json:"database_specific"`
}

func shared(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testenv.Shared(t), "oval", name)
}

func convertFile(t *testing.T, name, ecosystem string) map[string]converted {
	t.Helper()
	f, err := os.Open(shared(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := oval.Convert(context.Background(), f, ecosystem, oval.Limits{})
	if err != nil {
		t.Fatalf("converting %s: %v", name, err)
	}
	out := make(map[string]converted, len(res.Records))
	for _, r := range res.Records {
		var c converted
		if err := json.Unmarshal(r.JSON, &c); err != nil {
			t.Fatalf("record %s is not JSON: %v", r.ID, err)
		}
		if c.ID != r.ID {
			t.Fatalf("record id %q, JSON id %q", r.ID, c.ID)
		}
		out[c.ID] = c
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped definitions: %v", res.Skipped)
	}
	return out
}

// The published files: counts from ../shared/oval/SOURCES.md; the spot checks were
// read off the XML by hand.
func TestConvertPublishedFiles(t *testing.T) {
	type spot struct {
		id, cve, pkg, event, version, severity string
	}
	for _, tc := range []struct {
		file, ecosystem string
		definitions     int
		spots           []spot
	}{
		{"azurelinux-3.0-oval.xml", "Azure Linux:3.0", 1222, []spot{
			{"AZURELINUX-50124", "CVE-2024-47191", "oath-toolkit", "fixed", "2.6.7-3.azl3", "High"},
			{"AZURELINUX-49740", "CVE-2024-42861", "linuxptp", "fixed", "3.1.1-1.azl3", "High"},
			{"AZURELINUX-49728", "CVE-2024-45773", "thrift", "fixed", "0.15.0-5.azl3", ""},
		}},
		{"cbl-mariner-2.0-oval.xml", "Azure Linux:2.0", 2436, []spot{
			{"CBL-MARINER-13832", "CVE-2022-3857", "syslinux", "last_affected", "6.04-10.cm2", "Medium"},
			{"CBL-MARINER-33517", "CVE-2023-51714", "qt5-qtbase", "", "", "Critical"},
		}},
	} {
		t.Run(tc.file+" converts every definition into one record of "+tc.ecosystem, func(t *testing.T) {
			recs := convertFile(t, tc.file, tc.ecosystem)
			if len(recs) != tc.definitions {
				t.Fatalf("%d records, want %d definitions", len(recs), tc.definitions)
			}
			for _, s := range tc.spots {
				r, ok := recs[s.id]
				if !ok {
					t.Fatalf("no record %s", s.id)
				}
				if diff := cmp.Diff([]string{s.cve}, r.Aliases); diff != "" {
					t.Errorf("%s aliases (-want +got):\n%s", s.id, diff)
				}
				if len(r.Affected) != 1 || r.Affected[0].Package.Name != s.pkg || r.Affected[0].Package.Ecosystem != tc.ecosystem {
					t.Fatalf("%s affected = %+v, want one entry for %s in %s", s.id, r.Affected, s.pkg, tc.ecosystem)
				}
				if s.event != "" {
					want := []map[string]string{{"introduced": "0"}, {s.event: s.version}}
					if diff := cmp.Diff(want, r.Affected[0].Ranges[0].Events); diff != "" {
						t.Errorf("%s events (-want +got):\n%s", s.id, diff)
					}
				}
				if s.severity != "" && r.DatabaseSpecific.Severity != s.severity {
					t.Errorf("%s severity %q, want %q", s.id, r.DatabaseSpecific.Severity, s.severity)
				}
			}
		})
	}
}

// Every record agrees with its definition's own title, an independent statement of
// the same fact: "CVE-X affecting package P for versions less than V" (the fix
// bound, without the dist tag ".azl3"), or "CVE-X affecting package P V" (a
// vulnerable version: only the CVE and package are compared).
func TestConvertedRecordsAgreeWithTheirTitles(t *testing.T) {
	title := regexp.MustCompile(`^(CVE-\d+-\d+) affecting package (\S+) (for versions less than )?(\S+)$`)
	for _, tc := range []struct{ file, ecosystem string }{
		{"azurelinux-3.0-oval.xml", "Azure Linux:3.0"},
		{"cbl-mariner-2.0-oval.xml", "Azure Linux:2.0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			checked := 0
			for id, r := range convertFile(t, tc.file, tc.ecosystem) {
				m := title.FindStringSubmatch(r.Summary)
				if m == nil {
					continue
				}
				checked++
				a := r.Affected[0]
				var version string
				for _, e := range a.Ranges[0].Events {
					version += e["fixed"] + e["last_affected"]
				}
				bound := m[3] == "" || strings.HasPrefix(version, m[4]) && a.Ranges[0].Events[1]["fixed"] != ""
				if len(r.Aliases) != 1 || r.Aliases[0] != m[1] || a.Package.Name != m[2] || !bound {
					t.Errorf("%s: title %q, record aliases %v package %s version %s", id, r.Summary, r.Aliases, a.Package.Name, version)
				}
			}
			if checked < 1000 {
				t.Fatalf("only %d titles had the expected form", checked)
			}
		})
	}
}

func TestConvertRejectsBadDocuments(t *testing.T) {
	const good = `<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" xmlns:linux-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux">
<definitions><definition class="vulnerability" id="oval:com.microsoft.azurelinux:def:1"><metadata><title>t</title>
<reference ref_id="CVE-2024-0001" source="CVE"/><severity>High</severity></metadata>
<criteria operator="AND"><criterion test_ref="tst:1"/></criteria></definition></definitions>
<tests><linux-def:rpminfo_test id="tst:1"><linux-def:object object_ref="obj:1"/><linux-def:state state_ref="ste:1"/></linux-def:rpminfo_test></tests>
<objects><linux-def:rpminfo_object id="obj:1"><linux-def:name>openssl</linux-def:name></linux-def:rpminfo_object></objects>
<states><linux-def:rpminfo_state id="ste:1"><linux-def:evr datatype="evr_string" operation="OP">VERSION</linux-def:evr></linux-def:rpminfo_state></states>
</oval_definitions>`
	doc := func(op, version string) string {
		return strings.NewReplacer("OP", op, "VERSION", version).Replace(good)
	}
	ctx := context.Background()
	t.Run("a good one-definition document converts", func(t *testing.T) {
		res, err := oval.Convert(ctx, strings.NewReader(doc("less than", "1:3.0.1-2.azl3")), "Azure Linux:3.0", oval.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var c converted
		if err := json.Unmarshal(res.Records[0].JSON, &c); err != nil {
			t.Fatal(err)
		}
		want := []map[string]string{{"introduced": "0"}, {"fixed": "1:3.0.1-2.azl3"}}
		if diff := cmp.Diff(want, c.Affected[0].Ranges[0].Events); diff != "" {
			t.Errorf("a non-zero epoch is kept (-want +got):\n%s", diff)
		}
	})
	for _, tc := range []struct {
		name string
		body string
		lim  oval.Limits
	}{
		{"an HTML error page", "<html><body>503 Service Unavailable</body></html>", oval.Limits{}},
		{"a truncated document", doc("less than", "1.0")[:300], oval.Limits{}},
		{"an unknown operation", doc("greater than", "1.0"), oval.Limits{}},
		{"a version with spaces", doc("less than", "1.0 2.0"), oval.Limits{}},
		{"an absurd version", doc("less than", strings.Repeat("9", 5000)), oval.Limits{}},
		{"a missing test", strings.Replace(doc("less than", "1.0"), `test_ref="tst:1"`, `test_ref="tst:2"`, 1), oval.Limits{}},
		{"a document over the byte limit", doc("less than", "1.0"), oval.Limits{MaxBytes: 100}},
		{"more definitions than the limit", twoDefinitions(doc("less than", "1.0")), oval.Limits{MaxDefinitions: 1}},
		{"two definitions with one id", strings.Replace(twoDefinitions(doc("less than", "1.0")), "def:2", "def:1", 1), oval.Limits{}},
		{"no definitions", `<oval_definitions><definitions></definitions></oval_definitions>`, oval.Limits{}},
	} {
		t.Run(tc.name+" is malformed", func(t *testing.T) {
			_, err := oval.Convert(ctx, strings.NewReader(tc.body), "Azure Linux:3.0", tc.lim)
			if !errors.Is(err, oval.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// twoDefinitions repeats a one-definition document's definition as def:2.
func twoDefinitions(doc string) string {
	start, end := strings.Index(doc, "<definition "), strings.Index(doc, "</definitions>")
	second := strings.Replace(doc[start:end], "def:1", "def:2", 1)
	return doc[:end] + second + doc[end:]
}
