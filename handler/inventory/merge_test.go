package inventory_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/inventory"
)

// ignorePURL leaves package URLs to the tests about them.
var ignorePURL = cmpopts.IgnoreFields(inventory.Package{}, "PURL")

func deb(name, version, location string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: name, SourceVersion: version,
		Arch: "amd64", Type: "deb", Location: location}
}

func gomod(name, version, location string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: name, SourceVersion: version,
		Type: "golang", Ecosystem: "Go", Location: location}
}

func at(p inventory.Package, layer int) inventory.Package {
	p.LayerIndex = layer
	p.LayerDiffID = diffID(layer)
	return p
}

func diffID(i int) string { return "sha256:layer" + string(rune('0'+i)) }

const status = "var/lib/dpkg/status"

func layers(results ...inventory.LayerResult) []*inventory.LayerResult {
	out := make([]*inventory.LayerResult, len(results))
	for i := range results {
		results[i].DiffID = diffID(i)
		results[i].Analyzer = inventory.Analyzer
		out[i] = &results[i]
	}
	return out
}

func TestMergeAppliesLayerSemantics(t *testing.T) {
	a1, a2, b1 := deb("a", "1", status), deb("a", "2", status), deb("b", "1", status)
	c1 := deb("c", "1", "var/lib/dpkg/status.d/c")
	tests := []struct {
		name   string
		layers []*inventory.LayerResult
		want   []inventory.Package
	}{
		{
			name: "a later database file replaces the lower one",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1, b1}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a2, b1}}},
			),
			want: []inventory.Package{at(a2, 1), at(b1, 0)},
		},
		{
			name: "a package keeps its layer when an upper layer rewrites the file unchanged",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1, b1}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1, b1}}},
			),
			want: []inventory.Package{at(a1, 0), at(b1, 1)},
		},
		{
			name: "a version removed and reinstalled counts from its reinstall",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}}},
			),
			want: []inventory.Package{at(a1, 2)},
		},
		{
			name: "a hard link to a lower layer's Go binary keeps it when its first path is deleted",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{"app/go-app": {gomod("stdlib", "1.26.8", "app/go-app")}}},
				inventory.LayerResult{HardLinks: map[string]string{"usr/bin/go-app": "app/go-app"}},
				inventory.LayerResult{Whiteouts: []string{"app/go-app"}},
			),
			want: []inventory.Package{at(gomod("stdlib", "1.26.8", "usr/bin/go-app"), 1)},
		},
		{
			name: "a hard link over a lower layer's Go binary replaces it",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{"app/go-app": {gomod("stdlib", "1.26.8", "app/go-app")}}},
				inventory.LayerResult{HardLinks: map[string]string{"app/go-app": "etc/motd"}},
			),
			want: []inventory.Package{},
		},
		{
			name: "a hard link to a lower layer's database is not a database",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}}},
				inventory.LayerResult{HardLinks: map[string]string{"opt/status-copy": status}},
				inventory.LayerResult{Whiteouts: []string{status}},
			),
			want: []inventory.Package{},
		},
		{
			name: "a whiteout deletes the database file",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}, c1.Location: {c1}}},
				inventory.LayerResult{Whiteouts: []string{status}},
			),
			want: []inventory.Package{at(c1, 0)},
		},
		{
			name: "a whiteout of a directory deletes everything below it",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}, c1.Location: {c1}}},
				inventory.LayerResult{Whiteouts: []string{"var/lib/dpkg/status.d"}},
			),
			want: []inventory.Package{at(a1, 0)},
		},
		{
			name: "a whiteout does not delete a sibling sharing its prefix",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}, c1.Location: {c1}}},
				inventory.LayerResult{Whiteouts: []string{"var/lib/dpkg/stat"}},
			),
			want: []inventory.Package{at(a1, 0), at(c1, 0)},
		},
		{
			name: "an opaque directory hides lower contents but keeps its own layer's",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}, c1.Location: {c1}}},
				inventory.LayerResult{
					OpaqueDirs:   []string{"var/lib/dpkg/status.d"},
					PackageFiles: map[string][]inventory.Package{"var/lib/dpkg/status.d/b": {deb("b", "1", "var/lib/dpkg/status.d/b")}},
				},
			),
			want: []inventory.Package{at(a1, 0), at(deb("b", "1", "var/lib/dpkg/status.d/b"), 1)},
		},
		{
			name: "a whiteout applies to lower layers only, not to a file its own layer adds",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {a1}}},
				inventory.LayerResult{Whiteouts: []string{status}, PackageFiles: map[string][]inventory.Package{status: {b1}}},
			),
			want: []inventory.Package{at(b1, 1)},
		},
		{
			name: "the same module in two binaries is listed once per binary",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{"app/a": {gomod("x", "1", "app/a")}, "app/b": {gomod("x", "1", "app/b")}}},
			),
			want: []inventory.Package{at(gomod("x", "1", "app/a"), 0), at(gomod("x", "1", "app/b"), 0)},
		},
		{
			name: "a binary replaced by one without Go modules loses its modules",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{"app/a": {gomod("x", "1", "app/a")}}},
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{"app/a": {}}},
			),
			want: []inventory.Package{},
		},
		{
			name: "a package listed in two surviving files is reported once",
			layers: layers(
				inventory.LayerResult{PackageFiles: map[string][]inventory.Package{status: {deb("c", "1", status)}, c1.Location: {c1}}},
			),
			want: []inventory.Package{at(deb("c", "1", status), 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.Merge(tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, inv.Packages, ignorePURL); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func release(id, version string) *inventory.OSRelease {
	return &inventory.OSRelease{ID: id, VersionID: version}
}

func TestMergeDetectsDistribution(t *testing.T) {
	link := func(target string) inventory.OSReleaseFile { return inventory.OSReleaseFile{LinkTarget: target} }
	file := func(r *inventory.OSRelease) inventory.OSReleaseFile { return inventory.OSReleaseFile{Release: r} }
	tests := []struct {
		name          string
		layers        []*inventory.LayerResult
		wantEcosystem string
		wantID        string
	}{
		{
			name:          "debian via a relative etc/os-release symlink is Debian:12",
			layers:        layers(inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": link("../usr/lib/os-release"), "usr/lib/os-release": file(release("debian", "12"))}}),
			wantEcosystem: "Debian:12", wantID: "debian",
		},
		{
			name: "the symlink target may come from a lower layer and an absolute link",
			layers: layers(
				inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"usr/lib/os-release": file(release("debian", "11.7"))}},
				inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": link("/usr/lib/os-release")}},
			),
			wantEcosystem: "Debian:11", wantID: "debian",
		},
		{
			name:          "ubuntu LTS is named as OSV names it",
			layers:        layers(inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": file(release("ubuntu", "22.04"))}}),
			wantEcosystem: "Ubuntu:22.04:LTS", wantID: "ubuntu",
		},
		{
			name:          "usr/lib/os-release is the fallback when etc/os-release is absent",
			layers:        layers(inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"usr/lib/os-release": file(release("debian", "12"))}}),
			wantEcosystem: "Debian:12", wantID: "debian",
		},
		{
			name:          "an unknown distribution has no ecosystem",
			layers:        layers(inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": file(release("plan9", "4"))}}),
			wantEcosystem: "", wantID: "plan9",
		},
		{
			name: "a deleted os-release leaves no distribution",
			layers: layers(
				inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": file(release("debian", "12"))}},
				inventory.LayerResult{Whiteouts: []string{"etc"}},
			),
			wantEcosystem: "", wantID: "",
		},
		{
			name:          "a symlink loop is not followed forever",
			layers:        layers(inventory.LayerResult{OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": link("os-release")}}),
			wantEcosystem: "", wantID: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.Merge(tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			var gotEcosystem, gotID string
			if inv.OS != nil {
				gotEcosystem, gotID = inv.OS.Ecosystem, inv.OS.ID
			}
			if gotEcosystem != tt.wantEcosystem || gotID != tt.wantID {
				t.Errorf("Ecosystem, OS.ID = %q, %q; want %q, %q", gotEcosystem, gotID, tt.wantEcosystem, tt.wantID)
			}
		})
	}
}

func TestMergeRejectsMixedAnalyzers(t *testing.T) {
	ls := layers(inventory.LayerResult{}, inventory.LayerResult{})
	ls[1].Analyzer = "old"
	if _, err := inventory.Merge(ls); err == nil {
		t.Fatal("Merge accepted layers from different analyzer versions")
	}
}
