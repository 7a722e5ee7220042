package inventory_test

import (
	"context"
	"encoding/json"
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
