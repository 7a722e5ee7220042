package cli_test

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

const (
	bookwormRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"
	dpkgStatus      = "var/lib/dpkg/status"
	openssl300      = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.0-1\n\n"
)

// repeating yields s over and over.
type repeating struct {
	s   string
	off int
}

func (r *repeating) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// hugeStatus is a 600 MB status: openssl 3.0.0-1, then one stanza whose
// description runs on for the rest.
func hugeStatus() tarEntry {
	const size = 600_000_000
	head := openssl300 + "Package: padding\nDescription: pad\n"
	return tarEntry{name: dpkgStatus, size: size, body: func() io.Reader {
		return io.MultiReader(strings.NewReader(head), io.LimitReader(&repeating{s: " padding padding padding padding padding padding\n"}, size-int64(len(head))))
	}}
}

// sparseStatus writes an old-GNU sparse entry (type 'S', which archive/tar cannot
// write): the openssl stanza, then a hole up to 600 MB, then the end of the archive.
func sparseStatus(w io.Writer) error {
	var hdr [512]byte
	octal := func(field []byte, v int64) {
		s := strconv.FormatInt(v, 8)
		copy(field, strings.Repeat("0", len(field)-1-len(s))+s)
	}
	copy(hdr[0:100], dpkgStatus)
	octal(hdr[100:108], 0o644)
	octal(hdr[108:116], 0)
	octal(hdr[116:124], 0)
	octal(hdr[124:136], int64(len(openssl300)))
	octal(hdr[136:148], 0)
	hdr[156] = 'S'
	copy(hdr[257:265], "ustar  \x00")
	octal(hdr[386:398], 0)                      // sparse[0].offset
	octal(hdr[398:410], int64(len(openssl300))) // sparse[0].numbytes
	octal(hdr[483:495], 600_000_000)            // realsize
	copy(hdr[148:156], "        ")
	var sum int64
	for _, b := range hdr {
		sum += int64(b)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	data := make([]byte, 512)
	copy(data, openssl300)
	for _, b := range [][]byte{hdr[:], data, make([]byte, 1024)} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
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
	release := tarOf(regular("etc/os-release", bookwormRelease))
	hostDB := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(hostDB, []byte(openssl300), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		layers     []func(io.Writer) error
		wantStatus string
		want       []string
	}{
		{name: "a 600 MB status whose first stanza is openssl reports openssl and is incomplete",
			layers:     []func(io.Writer) error{tarOf(regular("etc/os-release", bookwormRelease), hugeStatus())},
			wantStatus: "incomplete", want: wantOpenssl},
		{name: "a sparse status reports openssl and is incomplete",
			layers: []func(io.Writer) error{sparseStatus, release}, wantStatus: "incomplete", want: wantOpenssl},
		{name: "a status symlinked into a lower layer reports openssl",
			layers: []func(io.Writer) error{tarOf(regular("etc/os-release", bookwormRelease), regular("opt/db/status", openssl300)),
				tarOf(link(tar.TypeSymlink, dpkgStatus, "/opt/db/status"))},
			wantStatus: "scanned", want: wantOpenssl},
		{name: "a status hard-linked to another file reports openssl",
			layers: []func(io.Writer) error{tarOf(regular("etc/os-release", bookwormRelease), regular("opt/db/status", openssl300),
				link(tar.TypeLink, dpkgStatus, "opt/db/status"))},
			wantStatus: "scanned", want: wantOpenssl},
		{name: "a status symlinked to a database on the host reads nothing of the host and is incomplete",
			layers:     []func(io.Writer) error{tarOf(regular("etc/os-release", bookwormRelease), link(tar.TypeSymlink, dpkgStatus, hostDB))},
			wantStatus: "incomplete", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", dockerArchive(t, tt.layers...), "--advisories", testenv.Advisories(t),
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
