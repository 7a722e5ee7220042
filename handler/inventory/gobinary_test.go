package inventory_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// goAppSidecar is the part of go-app.json that `go version -m` produced.
type goAppSidecar struct {
	GoBinary struct {
		GoVersion string `json:"goVersion"`
		Modules   []struct {
			Kind    string `json:"kind"`
			Path    string `json:"path"`
			Version string `json:"version"`
		} `json:"modules"`
	} `json:"goBinary"`
}

// goModule is what a Go package of the inventory must say, in OSV's Go terms.
type goModule struct{ Name, Version, Ecosystem, Location string }

func TestScanOfAGoBinaryImageWithoutOSReleaseListsItsModules(t *testing.T) {
	archive := testenv.Image(t, "go-app")
	raw, err := os.ReadFile(strings.TrimSuffix(archive, ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sidecar goAppSidecar
	if err := json.Unmarshal(raw, &sidecar); err != nil {
		t.Fatal(err)
	}
	// OSV's Go records name the toolchain "stdlib" and write versions without the
	// leading "v" (GO-2022-1059: golang.org/x/text fixed "0.3.8"). The main module
	// was built from a work tree, "(devel)", which no advisory can match.
	const binary = "app/go-app"
	want := []goModule{{"stdlib", strings.TrimPrefix(sidecar.GoBinary.GoVersion, "go"), "Go", binary}}
	for _, m := range sidecar.GoBinary.Modules {
		if m.Kind == "dep" {
			want = append(want, goModule{m.Path, strings.TrimPrefix(m.Version, "v"), "Go", binary})
		}
	}
	if len(want) != 15 {
		t.Fatalf("sidecar lists %d modules besides the main one, the README says 15 deps + stdlib", len(want))
	}

	target, err := image.FromArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Scan(context.Background(), target.Platforms[0], inventory.NewMemoryCache())
	if err != nil {
		t.Fatal(err)
	}
	if inv.OS != nil {
		t.Errorf("OS = %+v, want none: the image has no os-release", inv.OS)
	}
	if len(inv.Skipped) != 0 {
		t.Errorf("skipped files: %+v", inv.Skipped)
	}
	got := map[goModule]bool{}
	for _, p := range inv.Packages {
		got[goModule{p.Name, p.Version, p.Ecosystem, p.Location}] = true
		if p.Type != "golang" || !strings.HasPrefix(p.PURL, "pkg:golang/") {
			t.Errorf("package %s: type %q, PURL %q; want golang and a pkg:golang URL", p.Name, p.Type, p.PURL)
		}
	}
	wantSet := map[goModule]bool{}
	for _, m := range want {
		wantSet[m] = true
	}
	if diff := cmp.Diff(wantSet, got); diff != "" {
		t.Errorf("Go modules (-sidecar +scanned):\n%s", diff)
	}
}

func TestCandidateGoBinariesAreInspectedOrReportedSkipped(t *testing.T) {
	const big = 65 << 20 // over the 64 MiB read whole
	executable := func(name, head string, size int64) testenv.TarEntry {
		return testenv.TarEntry{Name: name, Size: size, Mode: 0o755, Body: func() io.Reader {
			return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, size-int64(len(head))))
		}}
	}
	tests := []struct {
		name        string
		file        testenv.TarEntry
		wantSkipped []string
	}{
		{"a Go binary over 64 MiB is reported skipped", executable("usr/bin/huge", "\x7fELF\x02\x01\x01"+strings.Repeat("\x00", 1<<20)+"\xff Go buildinf:", big), []string{"usr/bin/huge"}},
		{"an ELF file over 64 MiB without Go build information is not a Go binary", executable("usr/bin/huge", "\x7fELF\x02\x01\x01", big), nil},
		{"a small ELF file that is not a Go binary has no packages and is not skipped", executable("usr/bin/small", "\x7fELF\x02\x01\x01", 4096), nil},
		{"an executable script over 64 MiB is not a binary and is not skipped", executable("usr/bin/script", "#!/bin/sh\n", big), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(tt.file)))
			if len(inv.Packages) != 0 {
				t.Errorf("packages %v, want none", names(inv))
			}
			if diff := cmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// corruptBuildInfo is the go-app fixture's binary with the version and module strings
// of its build information (which follow the 32-byte header that starts with the
// magic, in the Go 1.18+ inline layout) overwritten with 0xff: the magic is still
// there, but debug/buildinfo cannot decode what follows it.
func corruptBuildInfo(t *testing.T) string {
	t.Helper()
	bin := testenv.FixtureFile(t, "go-app", "app/go-app")
	at := bytes.Index(bin, []byte("\xff Go buildinf:"))
	if at < 0 || at+48 > len(bin) || bin[at+15]&2 == 0 {
		t.Fatal("the go-app binary has no Go 1.18+ build information header")
	}
	bad := bytes.Clone(bin)
	for i := at + 32; i < at+48; i++ {
		bad[i] = 0xff
	}
	if _, err := buildinfo.Read(bytes.NewReader(bad)); err == nil {
		t.Fatal("debug/buildinfo still reads the corrupted binary")
	}
	return string(bad)
}

func TestAGoBinaryWithCorruptBuildInfoIsReportedSkippedAndTheRestInventoried(t *testing.T) {
	raw, err := os.ReadFile(strings.TrimSuffix(testenv.Image(t, "go-app"), ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sidecar goAppSidecar
	if err := json.Unmarshal(raw, &sidecar); err != nil {
		t.Fatal(err)
	}
	const good, corrupt = "app/go-app", "app/broken"
	want := map[goModule]bool{{"stdlib", strings.TrimPrefix(sidecar.GoBinary.GoVersion, "go"), "Go", good}: true}
	for _, m := range sidecar.GoBinary.Modules {
		if m.Kind == "dep" {
			want[goModule{m.Path, strings.TrimPrefix(m.Version, "v"), "Go", good}] = true
		}
	}

	inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(
		testenv.Executable(good, string(testenv.FixtureFile(t, "go-app", good))),
		testenv.Executable(corrupt, corruptBuildInfo(t)),
	)))
	if len(inv.Skipped) != 1 || inv.Skipped[0].Path != corrupt ||
		!strings.Contains(inv.Skipped[0].Reason, "Go build information that debug/buildinfo cannot read") {
		t.Errorf("skipped = %+v, want only %s, its build information unreadable", inv.Skipped, corrupt)
	}
	got := map[goModule]bool{}
	for _, p := range inv.Packages {
		got[goModule{p.Name, p.Version, p.Ecosystem, p.Location}] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Go modules (-sidecar +scanned):\n%s", diff)
	}
}
