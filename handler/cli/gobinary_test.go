package cli_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// goAppBinary reads /app/go-app out of the shared go-app fixture's layer.
func goAppBinary(t *testing.T) string {
	t.Helper()
	layerDigest := readSidecar(t, "go-app").Manifests[0].Layers[0].Digest
	f, err := os.Open(testenv.Image(t, "go-app"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no layer %s in go-app: %v", layerDigest, err)
		}
		if hdr.Name != "blobs/"+strings.Replace(layerDigest, ":", "/", 1) {
			continue
		}
		zr, err := gzip.NewReader(tr)
		if err != nil {
			t.Fatal(err)
		}
		lr := tar.NewReader(zr)
		for {
			h, err := lr.Next()
			if err != nil {
				t.Fatalf("no app/go-app in go-app's layer: %v", err)
			}
			if h.Name == "app/go-app" {
				b, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
		}
	}
}

// locatedFindings lists a platform's findings as "location id package", sorted.
func locatedFindings(t *testing.T, findings []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, raw := range findings {
		var f appFindingJSON
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f.Location+" "+f.ID+" "+f.Package)
	}
	sort.Strings(out)
	return out
}

func TestGoBinariesFollowTheLayersOfTheImageTheyAreIn(t *testing.T) {
	bin := goAppBinary(t)
	var oracle []string
	for _, f := range testenv.NewGoOracle(t).Findings(t, testenv.ReadGoBinary(t, "go-app").Modules(t)) {
		oracle = append(oracle, f.ID+" "+f.Package)
	}
	at := func(locations ...string) []string {
		out := []string{}
		for _, l := range locations {
			for _, f := range oracle {
				out = append(out, l+" "+f)
			}
		}
		sort.Strings(out)
		return out
	}
	script := "#!/bin/sh\nexec /usr/bin/env true\n"
	tests := []struct {
		name       string
		layers     []func(io.Writer) error
		want       []string
		wantStatus string
	}{
		{name: "a binary deleted by a whiteout in an upper layer is not reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)), testenv.Tar(testenv.File("app/.wh.go-app", ""))}, want: at(), wantStatus: "unsupported"},
		{name: "a binary under an opaque directory of an upper layer is not reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)), testenv.Tar(testenv.File("app/.wh..wh..opq", ""))}, want: at(), wantStatus: "unsupported"},
		{name: "a binary replaced by an executable script in an upper layer is not reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)), testenv.Tar(testenv.Executable("app/go-app", script))}, want: at(), wantStatus: "unsupported"},
		{name: "a binary replaced by a non-Go ELF file in an upper layer is not reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)),
				testenv.Tar(testenv.Executable("app/go-app", "\x7fELF\x02\x01\x01"+strings.Repeat("\x00", 4096)))}, want: at(), wantStatus: "unsupported"},
		{name: "a binary replaced by a hard link to another file in an upper layer is not reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)),
				testenv.Tar(testenv.File("etc/motd", "hello\n"), testenv.Hardlink("app/go-app", "etc/motd"))}, want: at(), wantStatus: "unsupported"},
		{name: "a Go binary too big to read whole leaves the platform incomplete, never clean",
			layers: []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease),
				testenv.Executable("app/huge", "\x7fELF\x02\x01\x01"+strings.Repeat("\x00", 65<<20)+"\xff Go buildinf:"))},
			want: at(), wantStatus: "incomplete"},
		{name: "two copies of the binary are reported at both locations",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin), testenv.Executable("usr/local/bin/go-app", bin))},
			want:   at("app/go-app", "usr/local/bin/go-app"), wantStatus: "scanned"},
		{name: "a symlink to the binary does not report it twice",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin), testenv.Symlink("usr/local/bin/go-app", "/app/go-app"))},
			want:   at("app/go-app"), wantStatus: "scanned"},
		{name: "a hard link to the binary is the binary at a second path",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin), testenv.Hardlink("usr/local/bin/go-app", "app/go-app"))},
			want:   at("app/go-app", "usr/local/bin/go-app"), wantStatus: "scanned"},
		{name: "a binary kept by a hard link after an upper layer deletes its first path is still reported",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin), testenv.Hardlink("usr/local/bin/go-app", "app/go-app")),
				testenv.Tar(testenv.File("app/.wh.go-app", ""))},
			want: at("usr/local/bin/go-app"), wantStatus: "scanned"},
		{name: "a binary hard-linked from an upper layer is still reported through the link when its first path is deleted",
			layers: []func(io.Writer) error{testenv.Tar(testenv.Executable("app/go-app", bin)),
				testenv.Tar(testenv.Hardlink("usr/local/bin/go-app", "app/go-app")), testenv.Tar(testenv.File("app/.wh.go-app", ""))},
			want: at("usr/local/bin/go-app"), wantStatus: "scanned"},
		{name: "a binary next to a Debian database is reported with the Debian packages",
			layers: []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, testenv.OpensslStanza)),
				testenv.Tar(testenv.Executable("app/go-app", bin))},
			want: at("app/go-app"), wantStatus: "scanned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", testenv.DockerArchive(t, tt.layers...), "--advisories", testenv.Advisories(t),
				"--ecosystems", "Debian,Go", "--format", "json", "--exit-code", "3")
			if r.code != 3 {
				t.Errorf("exit code = %d, want 3 (findings, or nothing to match)", r.code)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1; stderr:\n%s", len(got.Platforms), r.stderr)
			}
			if p := got.Platforms[0]; p.Status != tt.wantStatus {
				t.Errorf("status %q (%s), want %q", p.Status, p.Error, tt.wantStatus)
			}
			goFindings := []string{}
			for _, f := range locatedFindings(t, got.Platforms[0].Findings) {
				if !strings.HasPrefix(f, "var/lib/dpkg/") {
					goFindings = append(goFindings, f)
				}
			}
			if diff := cmp.Diff(tt.want, goFindings); diff != "" {
				t.Errorf("Go findings as location id package (-want +scan):\n%s", diff)
			}
		})
	}
}
