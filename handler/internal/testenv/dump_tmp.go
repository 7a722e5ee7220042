package testenv

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// TEMPORARY: dumps each oracle's expectations to prove the refactor changes none.
func dumpExpected(t testing.TB, oracle string, in, out any) {
	path := os.Getenv("TIDEWATCH_ORACLE_DUMP")
	if path == "" {
		return
	}
	i, _ := json.Marshal(in)
	o, _ := json.Marshal(out)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(fmt.Sprintf("%s %x %s\n", oracle, sha256.Sum256(i), o))); err != nil {
		t.Fatal(err)
	}
}

func (o *DebianOracle) Findings(t testing.TB, pkgs []DpkgPackage) []ExpectedFinding {
	out := o.findings(t, pkgs)
	dumpExpected(t, "debian", pkgs, out)
	return out
}

func (o *AlpineOracle) Findings(t testing.TB, pkgs []ApkPackage, layerDiffID string) []ExpectedFinding {
	out := o.findings(t, pkgs, layerDiffID)
	dumpExpected(t, "alpine", []any{o.ecosystem, pkgs, layerDiffID}, out)
	return out
}

func (o *AlmaLinuxOracle) Findings(t testing.TB, pkgs []RPMPackage, diffID string) []ExpectedFinding {
	out := o.findings(t, pkgs, diffID)
	dumpExpected(t, "alma", []any{pkgs, diffID}, out)
	return out
}

func (o *StreamOracle) Findings(t testing.TB, streams []string, pkgs []InstalledRPM) []ExpectedFinding {
	out := o.findings(t, streams, pkgs)
	var ids []string
	for _, r := range o.records {
		ids = append(ids, r.ID)
	}
	dumpExpected(t, "stream", []any{ids, streams, pkgs}, out)
	return out
}

func (o *AppsOracle) Findings(t testing.TB, pkgs []AppsPackage) []AppsFinding {
	out := o.findings(t, pkgs)
	dumpExpected(t, "apps", pkgs, out)
	return out
}

func (o *GoOracle) Findings(t testing.TB, mods []GoModule) []ExpectedFinding {
	out := o.findings(t, mods)
	dumpExpected(t, "go", mods, out)
	return out
}

func (o *MavenOracle) Findings(t testing.TB, pkgs []MavenPackage) []ExpectedFinding {
	out := o.findings(t, pkgs)
	dumpExpected(t, "maven", pkgs, out)
	return out
}
