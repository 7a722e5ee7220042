package cli_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// sparseStatus writes an old-GNU sparse entry: the openssl stanza, then a hole up
// to 600 MB, then the end of the archive.
func sparseStatus(w io.Writer) error {
	if err := testenv.GNUSparseEntry(w, testenv.DpkgStatus, []byte(testenv.OpensslStanza), 600_000_000); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, 1024))
	return err
}

// idPackages lists the (id, package) pairs of a platform's findings, sorted.
func idPackages(t *testing.T, findings []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, raw := range findings {
		f := decodeFinding(t, raw)
		out = append(out, f.ID+" "+f.Package)
	}
	sort.Strings(out)
	return out
}

func TestHostileDpkgDatabasesAreNeverScannedCleanByTheCLI(t *testing.T) {
	oracle := testenv.NewDebianOracle(t)
	wantOpenssl := []string{}
	for _, f := range oracle.Findings(t, []testenv.DpkgPackage{{Package: "openssl", Version: "3.0.0-1",
		SourcePackage: "openssl", SourceVersion: "3.0.0-1"}}) {
		wantOpenssl = append(wantOpenssl, f.ID+" "+f.Package)
	}
	if len(wantOpenssl) == 0 {
		t.Fatal("the oracle finds nothing for openssl 3.0.0-1; the advisory data changed")
	}
	release := testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease))
	hostDB := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(hostDB, []byte(testenv.OpensslStanza), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		layers     []func(io.Writer) error
		wantStatus string
		want       []string
	}{
		{name: "a 600 MB status whose first stanza is openssl reports openssl and is incomplete",
			layers:     []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.PaddedStatus(testenv.DpkgStatus, 600_000_000))},
			wantStatus: "incomplete", want: wantOpenssl},
		{name: "a sparse status reports openssl and is incomplete",
			layers: []func(io.Writer) error{sparseStatus, release}, wantStatus: "incomplete", want: wantOpenssl},
		{name: "a status symlinked into a lower layer reports openssl",
			layers: []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/db/status", testenv.OpensslStanza)),
				testenv.Tar(testenv.Symlink(testenv.DpkgStatus, "/opt/db/status"))},
			wantStatus: "scanned", want: wantOpenssl},
		{name: "a status hard-linked to another file reports openssl",
			layers: []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/db/status", testenv.OpensslStanza),
				testenv.Hardlink(testenv.DpkgStatus, "opt/db/status"))},
			wantStatus: "scanned", want: wantOpenssl},
		{name: "a status symlinked to a database on the host reads nothing of the host and is incomplete",
			layers:     []func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(testenv.DpkgStatus, hostDB))},
			wantStatus: "incomplete", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", testenv.DockerArchive(t, tt.layers...), "--advisories", testenv.Advisories(t),
				"--format", "json", "--exit-code", "3")
			if r.code != 3 {
				t.Errorf("exit code = %d, want 3 (--exit-code); stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1; stderr:\n%s", len(got.Platforms), r.stderr)
			}
			p := got.Platforms[0]
			if p.Status != tt.wantStatus {
				t.Errorf("status %q (%s), want %q", p.Status, p.Error, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, idPackages(t, p.Findings)); diff != "" {
				t.Errorf("(id, package) (-oracle +scan):\n%s", diff)
			}
		})
	}
}
