package match_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// kernelBinaries returns n binary packages built from the source "linux", the shape
// that made remediation text (and so output and memory) grow with n per finding.
func kernelBinaries(n int) []inventory.Package {
	pkgs := make([]inventory.Package, n)
	for i := range pkgs {
		pkgs[i] = deb(fmt.Sprintf("linux-image-6.1.0-%02d-amd64", i), "6.1.115-1", "linux", "6.1.115-1")
	}
	return pkgs
}

// maxRemediationBytes bounds one remediation text whatever the number of binaries.
const maxRemediationBytes = 256

func TestRemediationSizeDoesNotGrowWithTheBinariesOfOneSource(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	for _, n := range []int{1, 50, 500} {
		t.Run(fmt.Sprintf("%d binaries of linux against one record give %d bounded findings", n, n), func(t *testing.T) {
			findings := matchDebian12(t, idx, kernelBinaries(n))
			if len(findings) != n {
				t.Fatalf("%d findings, want one per binary (%d)", len(findings), n)
			}
			for _, f := range findings {
				if len(f.Remediation) > maxRemediationBytes {
					t.Fatalf("remediation of %s is %d bytes (over %d): %.120q…", f.Package, len(f.Remediation), maxRemediationBytes, f.Remediation)
				}
			}
		})
	}
}

func TestRemediationNamesTheSourceAndAFewOfItsBinaries(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	findings := matchDebian12(t, idx, kernelBinaries(50))
	want := "upgrade source linux to 6.1.119-1 (installed: linux-image-6.1.0-00-amd64, linux-image-6.1.0-01-amd64, " +
		"linux-image-6.1.0-02-amd64, linux-image-6.1.0-03-amd64, linux-image-6.1.0-04-amd64 and 45 more)"
	for _, f := range findings {
		if f.Remediation != want {
			t.Fatalf("remediation of %s = %q, want %q", f.Package, f.Remediation, want)
		}
	}
}

func TestMatchAllocatesLinearlyInFindings(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	perFinding := func(n int) float64 {
		pkgs := kernelBinaries(n)
		var before, after runtime.MemStats
		const runs = 5
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			matchDebian12(t, idx, pkgs)
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / runs / float64(n)
	}
	small, large := perFinding(50), perFinding(800)
	t.Logf("bytes allocated per finding: %.0f for 50 binaries, %.0f for 800", small, large)
	// Linear output allocates about the same per finding at any size; remediation
	// text naming every binary makes the per-finding cost grow 16-fold here.
	if large > 2*small {
		t.Errorf("allocation per finding grew from %.0f to %.0f bytes between 50 and 800 binaries", small, large)
	}
}

func BenchmarkMatchManyBinariesOfOneSource(b *testing.B) {
	idx := loadTestdata(b, "Debian")
	pkgs := kernelBinaries(500)
	b.ReportAllocs()
	for b.Loop() {
		matchDebian12(b, idx, pkgs)
	}
}

// matchDebian12 matches Debian 12 packages and fails when any is left unmatched.
func matchDebian12(tb testing.TB, idx *advisory.Index, pkgs []inventory.Package) []match.Finding {
	tb.Helper()
	res := match.Match(idx, pkgs)
	if len(res.Gaps) > 0 || res.MatchedPackages != len(pkgs) {
		tb.Fatalf("Match() left packages unmatched: %+v", res.Gaps)
	}
	return res.Findings
}
