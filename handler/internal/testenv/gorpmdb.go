package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The go-rpmdb fixtures (testdata/go-rpmdb/README.md): real rpm databases copied out
// of real images, each with the packages.csv rpm printed about it inside the image.
const (
	// GoRPMDBSLEBCI is SLE BCI minimal 15.3's NDB Packages.db.
	GoRPMDBSLEBCI = "sle15-bci"
	// GoRPMDBAmazonLinux2023 is Amazon Linux 2023's rpmdb.sqlite.
	GoRPMDBAmazonLinux2023 = "amazonlinux2023-plain"
)

// SLEBCI153OSRelease is the /usr/lib/os-release of SLE BCI 15.3: BCI images ship
// sles-release (15.3-55.4.1 in its Packages.db), so it is SLES 15 SP3's, as SLES 15
// SP3 systems print it. go-rpmdb kept the database only; the file is written here.
const SLEBCI153OSRelease = `NAME="SLES"
VERSION="15-SP3"
VERSION_ID="15.3"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"
ID="sles"
ID_LIKE="suse"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:suse:sles:15:sp3"
DOCUMENTATION_URL="https://documentation.suse.com/"
`

// AmazonLinux2023OSRelease is the /usr/lib/os-release of Amazon Linux 2023 as its
// 2023 releases print it (system-release 2023.1.20230825 in its rpmdb.sqlite; later
// releases add DOCUMENTATION_URL, VENDOR_NAME and a dated PRETTY_NAME). go-rpmdb
// kept the database only; the file is written here.
const AmazonLinux2023OSRelease = `NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
SUPPORT_END="2028-03-15"
`

// goRPMDBDir is testdata/go-rpmdb/<fixture>.
func goRPMDBDir(t testing.TB, fixture string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "handler", "internal", "testenv", "testdata", "go-rpmdb", fixture)
}

// GoRPMDBFile returns the contents of a go-rpmdb fixture's file ("Packages.db").
func GoRPMDBFile(t testing.TB, fixture, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goRPMDBDir(t, fixture), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoRPMDBPackages returns every entry of a go-rpmdb fixture's packages.csv (what
// `rpm -qa` printed inside the image, gpg-pubkey entries included), in its order.
// Its columns are command.sh's: epoch (empty for none), name, version, release,
// arch, source rpm, then size, licence, vendor, summary and SIGMD5, unread here.
func GoRPMDBPackages(t testing.TB, fixture string) []RPMPackage {
	t.Helper()
	raw := string(GoRPMDBFile(t, fixture, "packages.csv"))
	var pkgs []RPMPackage
	for i, line := range strings.Split(strings.TrimSuffix(raw, "\n"), "\n") {
		f := strings.Split(line, "¶")
		if len(f) != 11 {
			t.Fatalf("%s packages.csv line %d has %d fields, want 11: %q", fixture, i+1, len(f), line)
		}
		p := RPMPackage{Package: f[1], Version: f[2], Release: f[3], Arch: f[4], SourceRPM: f[5]}
		if f[0] != "" {
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("%s packages.csv line %d has epoch %q", fixture, i+1, f[0])
			}
			p.Epoch = &n
		}
		if p.SourceRPM == "(none)" {
			p.SourceRPM = ""
		}
		p.SourcePackage = sourceRPMName(p.SourceRPM)
		pkgs = append(pkgs, p)
	}
	return pkgs
}
