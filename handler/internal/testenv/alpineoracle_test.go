package testenv

import "testing"

func TestAlpineOracleDecidesByOriginAndApkOrder(t *testing.T) {
	oracle := NewAlpineOracle(t, "Alpine:v3.4")
	layer := "sha256:layer"
	// CVE-2016-2105 is fixed for openssl in v3.4 by 1.0.2h-r0 (ALPINE-CVE-2016-2105).
	libssl := func(version string) []ApkPackage {
		return []ApkPackage{{Package: "libssl1.0", Version: version, Origin: "openssl", Architecture: "x86_64"}}
	}
	t.Run("a version below the fix is affected, under the installed package's name", func(t *testing.T) {
		want := ExpectedFinding{ID: "CVE-2016-2105", Package: "libssl1.0", FixedVersion: "1.0.2h-r0", LayerDiffID: layer}
		for _, f := range oracle.Findings(t, libssl("1.0.2g-r0"), layer) {
			if f == want {
				return
			}
		}
		t.Errorf("no %+v for libssl1.0 1.0.2g-r0", want)
	})
	t.Run("the fixed version itself is not affected", func(t *testing.T) {
		for _, f := range oracle.Findings(t, libssl("1.0.2h-r0"), layer) {
			if f.ID == "CVE-2016-2105" {
				t.Errorf("finding %+v for the fixed version", f)
			}
		}
	})
	t.Run("the record is found by origin, not by package name", func(t *testing.T) {
		pkgs := []ApkPackage{{Package: "libssl1.0", Version: "1.0.2g-r0", Origin: "not-openssl"}}
		if got := oracle.Findings(t, pkgs, layer); len(got) != 0 {
			t.Errorf("findings for an origin without records: %+v", got)
		}
	})
	t.Run("a package without origin is its own origin", func(t *testing.T) {
		pkgs := []ApkPackage{{Package: "openssl", Version: "1.0.2g-r0"}}
		if got := oracle.Findings(t, pkgs, layer); len(got) == 0 {
			t.Error("no finding for openssl 1.0.2g-r0 without an origin")
		}
	})
	t.Run("records of other branches do not count", func(t *testing.T) {
		v311 := NewAlpineOracle(t, "Alpine:v3.11")
		for _, f := range v311.Findings(t, libssl("1.0.2g-r0"), layer) {
			if f.ID == "CVE-2016-2105" {
				t.Errorf("v3.11 finding %+v from a record naming v3.3..v3.8 only", f)
			}
		}
	})
}
