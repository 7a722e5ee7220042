package inventory_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestABinaryBuiltByTheGo1220ToolchainListsWhatGoVersionMSays(t *testing.T) {
	body, info := testenv.OldGoBinary(t)
	if info.GoVersion != "go1.22.0" {
		t.Fatalf("fixture toolchain is %q, want go1.22.0 (rebuild with testdata/oldgo/build.sh)", info.GoVersion)
	}
	const location = "usr/local/bin/oldgo"
	want := map[goModule]bool{}
	for _, m := range info.Modules(t) {
		want[goModule{m.Path, m.Version, "Go", location}] = true
	}
	inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(testenv.Executable(location, body))))
	got := map[goModule]bool{}
	for _, p := range inv.Packages {
		got[goModule{p.Name, p.Version, p.Ecosystem, p.Location}] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Go modules (-go version -m +scanned):\n%s", diff)
	}
	if len(inv.Skipped) != 0 {
		t.Errorf("skipped files: %+v", inv.Skipped)
	}
}
