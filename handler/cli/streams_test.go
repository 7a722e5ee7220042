package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// Product streams of the hand-written Red Hat records (handler/match/testdata/osv/Red Hat).
const (
	rhel9BaseOS    = "Red Hat:enterprise_linux:9::baseos"
	rhel9AppStream = "Red Hat:enterprise_linux:9::appstream"
	rhel92EUS      = "Red Hat:rhel_eus:9.2::baseos"
	rhel9CRB       = "Red Hat:enterprise_linux:9::crb"
)

const ubi9OSRelease = `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
`

// contentManifest is a content manifest in the schema Red Hat's images carry
// (atomic_reactor's content_manifest.json: metadata, content_sets, image_contents).
func contentManifest(sets ...string) string {
	b, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"icm_version":       1,
			"icm_spec":          "https://raw.githubusercontent.com/containerbuildsystem/atomic-reactor/master/atomic_reactor/schemas/content_manifest.json",
			"image_layer_index": 0,
		},
		"content_sets":   sets,
		"image_contents": []any{},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// streamFixture is a real rpm database (the AlmaLinux 9 fixture's, el9 builds), the
// packages rpm itself lists in it, and an advisory directory holding the
// hand-written records of folder as its OSV export.
type streamFixture struct {
	db        string
	installed []testenv.InstalledRPM
	dir       string
	oracle    *testenv.StreamOracle
}

func newStreamFixture(t *testing.T, folder string) streamFixture {
	t.Helper()
	db := testenv.FixtureFile(t, "almalinux-9-micro", "var/lib/rpm/Packages")
	path := filepath.Join(t.TempDir(), "Packages")
	if err := os.WriteFile(path, db, 0o644); err != nil {
		t.Fatal(err)
	}
	var installed []testenv.InstalledRPM
	for _, p := range testenv.RPMQueryAll(t, path) {
		installed = append(installed, testenv.InstalledRPM{Package: p.Package, EVR: p.EVR()})
	}
	records := filepath.Join("..", "match", "testdata", "osv", folder)
	return streamFixture{db: string(db), installed: installed, dir: exportRecords(t, records, folder), oracle: testenv.NewStreamOracle(t, records)}
}

// exportRecords writes the *.json records of directory records as folder's OSV
// export into a new advisory directory, and returns that directory.
func exportRecords(t *testing.T, records, folder string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(records, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no records in %s (%v)", records, err)
	}
	members := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		members[filepath.Base(f)] = string(b)
	}
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, folder, members)
	return dir
}

// streamScan is what a test reads of a scan's one platform.
type streamScan struct {
	status, errorText, advisorySource string
	os                                struct {
		Ecosystem           string   `json:"ecosystem"`
		Streams             []string `json:"streams"`
		StreamsFrom         string   `json:"streamsFrom"`
		UnmappedContentSets []string `json:"unmappedContentSets"`
		ProductRelease      string   `json:"productRelease"`
	}
	packages  map[string]int
	unmatched []struct {
		Ecosystem string `json:"ecosystem"`
		Packages  int    `json:"packages"`
		Reason    string `json:"reason"`
	}
	skipped []struct {
		Path   string `json:"path"`
		Reason string `json:"reason"`
	}
	findings []string // "id package installed fixed"
}

func scanStreams(t *testing.T, dir, folder string, entries ...testenv.TarEntry) streamScan {
	t.Helper()
	archive := testenv.DockerArchive(t, testenv.Tar(entries...))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", dir, "--ecosystems", folder,
		"--severity-source", "", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
	}
	var out struct {
		Platforms []json.RawMessage `json:"platforms"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Platforms) != 1 {
		t.Fatalf("scan JSON with one platform expected (%v):\n%s", err, r.stdout)
	}
	var p struct {
		Status         string            `json:"status"`
		Error          string            `json:"error"`
		AdvisorySource string            `json:"advisorySource"`
		OS             json.RawMessage   `json:"os"`
		Packages       map[string]int    `json:"packages"`
		Unmatched      json.RawMessage   `json:"unmatched"`
		Skipped        json.RawMessage   `json:"skipped"`
		Findings       []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(out.Platforms[0], &p); err != nil {
		t.Fatal(err)
	}
	s := streamScan{status: p.Status, errorText: p.Error, advisorySource: p.AdvisorySource, packages: p.Packages}
	for _, part := range []struct {
		raw json.RawMessage
		v   any
	}{{p.OS, &s.os}, {p.Unmatched, &s.unmatched}, {p.Skipped, &s.skipped}} {
		if err := json.Unmarshal(part.raw, part.v); err != nil {
			t.Fatalf("decoding %s: %v", part.raw, err)
		}
	}
	for _, raw := range p.Findings {
		f := decodeFinding(t, raw)
		if f.Layer.Index != 0 {
			t.Errorf("%s %s in layer %d, want 0", f.ID, f.Package, f.Layer.Index)
		}
		if !strings.HasPrefix(f.Ecosystem, folder+":") {
			t.Errorf("%s %s has ecosystem %q, want one of %s's streams", f.ID, f.Package, f.Ecosystem, folder)
		}
		s.findings = append(s.findings, strings.Join([]string{f.ID, f.Package, f.InstalledVersion, f.FixedVersion}, " "))
	}
	slices.Sort(s.findings)
	return s
}

// expected is the oracle's findings over streams, as scanStreams lists them.
func (f streamFixture) expected(t *testing.T, streams ...string) []string {
	t.Helper()
	evr := map[string]string{}
	for _, p := range f.installed {
		evr[p.Package] = p.EVR
	}
	var out []string
	for _, e := range f.oracle.Findings(t, streams, f.installed) {
		out = append(out, strings.Join([]string{e.ID, e.Package, evr[e.Package], e.FixedVersion}, " "))
	}
	slices.Sort(out)
	return out
}

func TestScanOfAUBIImageMatchesTheRedHatStreamsItsContentManifestsName(t *testing.T) {
	fx := newStreamFixture(t, "Red Hat")
	const manifests = "root/buildinfo/content_manifests/"
	huge := `{"content_sets": ["rhel-9-for-x86_64-baseos-rpms"], "image_contents": ["` + strings.Repeat("x", 1<<20) + `"]}`
	tests := []struct {
		name        string
		files       []testenv.TarEntry
		streams     []string // the oracle's: which records apply
		wantStreams []string
		wantStatus  string
		wantGaps    []string // "ecosystem: reason"
		wantSkipped []string
	}{
		{name: "without a content manifest it is matched against BaseOS and AppStream",
			streams: []string{rhel9BaseOS, rhel9AppStream}, wantStreams: []string{rhel9AppStream, rhel9BaseOS}, wantStatus: "scanned"},
		{name: "a manifest naming BaseOS only leaves AppStream's records out",
			files:   []testenv.TarEntry{testenv.File(manifests+"ubi9-minimal-container-9.4-1194.json", contentManifest("rhel-9-for-x86_64-baseos-rpms"))},
			streams: []string{rhel9BaseOS}, wantStreams: []string{rhel9BaseOS}, wantStatus: "scanned"},
		{name: "a manifest naming BaseOS and AppStream is matched against both",
			files: []testenv.TarEntry{testenv.File(manifests+"ubi9-container-9.4-1214.json",
				contentManifest("rhel-9-for-x86_64-appstream-rpms", "rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-source-rpms"))},
			streams: []string{rhel9BaseOS, rhel9AppStream}, wantStreams: []string{rhel9AppStream, rhel9BaseOS}, wantStatus: "scanned"},
		{name: "EUS and CodeReady Builder streams are matched, the one without records is a gap",
			files: []testenv.TarEntry{testenv.File(manifests+"rhel-els-container-9.2-483.json",
				contentManifest("rhel-9-for-x86_64-baseos-eus-rpms__9_DOT_2", "codeready-builder-for-rhel-9-x86_64-rpms"))},
			streams: []string{rhel92EUS, rhel9BaseOS, rhel9CRB}, wantStreams: []string{rhel9BaseOS, rhel9CRB, rhel92EUS}, wantStatus: "scanned",
			wantGaps: []string{rhel9CRB + ": no advisories loaded for it"}},
		{name: "a content set naming no known stream is a gap",
			files: []testenv.TarEntry{testenv.File(manifests+"openshift-base-rhel9-container-v4.16.json",
				contentManifest("rhel-9-for-x86_64-baseos-rpms", "rhocp-4.16-for-rhel-9-x86_64-rpms"))},
			streams: []string{rhel9BaseOS}, wantStreams: []string{rhel9BaseOS}, wantStatus: "scanned",
			wantGaps: []string{"Red Hat: content sets naming no known Red Hat stream: rhocp-4.16-for-rhel-9-x86_64-rpms"}},
		{name: "a malformed manifest is skipped and the others are read",
			files: []testenv.TarEntry{
				testenv.File(manifests+"a.json", contentManifest("rhel-9-for-x86_64-baseos-rpms")),
				testenv.File(manifests+"b.json", `{"content_sets": ["rhel-9-for-x86_64-appstream-rpms"`)},
			streams: []string{rhel9BaseOS}, wantStreams: []string{rhel9BaseOS}, wantStatus: "incomplete",
			wantSkipped: []string{manifests + "b.json"}},
		{name: "a huge manifest is skipped and the default streams are matched",
			files:   []testenv.TarEntry{testenv.File(manifests+"huge.json", huge)},
			streams: []string{rhel9BaseOS, rhel9AppStream}, wantStreams: []string{rhel9AppStream, rhel9BaseOS}, wantStatus: "incomplete",
			wantSkipped: []string{manifests + "huge.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := append([]testenv.TarEntry{testenv.File("etc/os-release", ubi9OSRelease), testenv.File("var/lib/rpm/Packages", fx.db)}, tt.files...)
			got := scanStreams(t, fx.dir, "Red Hat", entries...)
			want := fx.expected(t, tt.streams...)
			if len(want) == 0 {
				t.Fatal("the oracle expects no finding: the records do not exercise this case")
			}
			if diff := cmp.Diff(want, got.findings); diff != "" {
				t.Errorf("findings as id package installed fixed (-oracle +scan):\n%s", diff)
			}
			if got.status != tt.wantStatus || got.advisorySource != "Red Hat" || got.os.Ecosystem != "Red Hat" {
				t.Errorf("status %q (%s), advisory source %q, OS ecosystem %q; want %s from Red Hat", got.status, got.errorText, got.advisorySource, got.os.Ecosystem, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantStreams, got.os.Streams); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"Red Hat": len(fx.installed)}, got.packages); diff != "" {
				t.Errorf("packages per ecosystem (-rpm -qa +scan):\n%s", diff)
			}
			var gaps, skipped []string
			for _, g := range got.unmatched {
				gaps = append(gaps, g.Ecosystem+": "+g.Reason)
				if g.Packages != len(fx.installed) {
					t.Errorf("gap %+v counts %d packages, want every one (%d): any may come from it", g, g.Packages, len(fx.installed))
				}
			}
			for _, s := range got.skipped {
				skipped = append(skipped, s.Path)
			}
			if diff := cmp.Diff(tt.wantGaps, gaps); diff != "" {
				t.Errorf("unmatched (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanOfSLESMatchesEverySUSEProductOfItsRelease(t *testing.T) {
	fx := newStreamFixture(t, "SUSE")
	tests := []struct {
		name, osRelease, wantRelease string
		products                     []string // the oracle's
	}{
		{"SLES 15 SP5 is matched against its modules and products, LTSS included",
			"NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\nID=\"sles\"\n", "15 SP5",
			[]string{"SUSE:Linux Enterprise Module for Basesystem 15 SP5", "SUSE:Linux Enterprise Server 15 SP5-LTSS",
				"SUSE:Linux Enterprise Module for Server Applications 15 SP5"}},
		{"SLE Micro 5.5 is matched against SLE Micro 5.5 only",
			"NAME=\"SLE Micro\"\nVERSION_ID=\"5.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Micro 5.5\"\nID=\"sle-micro\"\n", "Micro 5.5",
			[]string{"SUSE:Linux Enterprise Micro 5.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanStreams(t, fx.dir, "SUSE", testenv.File("etc/os-release", tt.osRelease), testenv.File("var/lib/rpm/Packages", fx.db))
			want := fx.expected(t, tt.products...)
			if len(want) == 0 {
				t.Fatal("the oracle expects no finding: the records do not exercise this case")
			}
			if diff := cmp.Diff(want, got.findings); diff != "" {
				t.Errorf("findings as id package installed fixed (-oracle +scan):\n%s", diff)
			}
			if got.status != "scanned" || got.advisorySource != "SUSE" || got.os.ProductRelease != tt.wantRelease || len(got.unmatched) != 0 {
				t.Errorf("status %q (%s), advisory source %q, release %q, unmatched %+v; want scanned from SUSE, %q, nothing unmatched",
					got.status, got.errorText, got.advisorySource, got.os.ProductRelease, got.unmatched, tt.wantRelease)
			}
			if diff := cmp.Diff(map[string]int{"SUSE": len(fx.installed)}, got.packages); diff != "" {
				t.Errorf("packages per ecosystem (-rpm -qa +scan):\n%s", diff)
			}
		})
	}
}
