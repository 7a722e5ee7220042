package testenv

import "testing"

func TestDebianOracleDecidesByDpkg(t *testing.T) {
	oracle := NewDebianOracle(t)
	layer := "sha256:layer"
	openssl := func(version string) []DpkgPackage {
		return []DpkgPackage{{Package: "libssl3", Version: version, SourcePackage: "openssl", SourceVersion: version, IntroducedInLayerDiffID: layer}}
	}
	t.Run("a version below every fix is affected by records with their fixes", func(t *testing.T) {
		got := oracle.Findings(t, openssl("0.1-1"))
		if len(got) == 0 {
			t.Fatal("no finding for openssl 0.1-1")
		}
		for _, f := range got {
			if f.Package != "libssl3" || f.LayerDiffID != layer || f.FixedVersion == "" {
				t.Errorf("finding %+v: want libssl3 in %s with a fixed version", f, layer)
			}
			if !oracle.Dpkg().Less(t, "0.1-1", f.FixedVersion) {
				t.Errorf("%s: fixed version %s is not above 0.1-1", f.ID, f.FixedVersion)
			}
		}
	})
	t.Run("a version above every fix is affected by none", func(t *testing.T) {
		if got := oracle.Findings(t, openssl("99:1")); len(got) != 0 {
			t.Errorf("%d findings for openssl 99:1, want none: %+v", len(got), got[0])
		}
	})
	t.Run("a source package without records is affected by none", func(t *testing.T) {
		pkgs := []DpkgPackage{{Package: "x", Version: "1", SourcePackage: "no-such-source-package", SourceVersion: "1"}}
		if got := oracle.Findings(t, pkgs); len(got) != 0 {
			t.Errorf("findings for an unknown source: %+v", got)
		}
	})
	t.Run("records are known by their id and only by it", func(t *testing.T) {
		if !oracle.HasRecord("DEBIAN-CVE-2006-10002") {
			t.Error("HasRecord misses DEBIAN-CVE-2006-10002, the first record of the export")
		}
		if oracle.HasRecord("CVE-2006-10002") {
			t.Error("HasRecord answers true for an alias")
		}
	})
}
