package testenv

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// ovalOracleScript reads {"oval": path, "installed": [[name, "[epoch:]version-release"], …]}
// on stdin, reads the OVAL document with Python's own XML parser (not Tidewatch's
// converter), and prints, as a JSON list, one [CVE, package, installed, fixed] per
// installed package a definition says is affected: rpm.labelCompare(installed, evr)
// < 0 for "less than" (fixed = the evr), <= 0 for "less than or equal" (no fix).
const ovalOracleScript = `
import json, sys, rpm
import xml.etree.ElementTree as ET
D = "{http://oval.mitre.org/XMLSchema/oval-definitions-5}"
L = "{http://oval.mitre.org/XMLSchema/oval-definitions-5#linux}"
req = json.load(sys.stdin)
root = ET.parse(req["oval"]).getroot()
tests = {t.get("id"): t for t in root.find(D + "tests")}
objects = {o.get("id"): o.findtext(L + "name").strip() for o in root.find(D + "objects")}
states = {s.get("id"): s.find(L + "evr") for s in root.find(D + "states")}
def evr(s):
    e, _, vr = s.partition(":") if ":" in s else ("0", "", s)
    vr = vr.strip()
    v, _, r = vr.rpartition("-") if "-" in vr else (vr, "", "")
    return (e.strip() or "0", v, r or None)
installed = {}
for name, version in req["installed"]:
    installed.setdefault(name, []).append(version)
out = []
for d in root.find(D + "definitions"):
    cves = [r.get("ref_id") for r in d.find(D + "metadata").findall(D + "reference") if r.get("source") == "CVE"]
    for c in d.iter(D + "criterion"):
        t = tests[c.get("test_ref")]
        name = objects[t.find(L + "object").get("object_ref")]
        st = states[t.find(L + "state").get("state_ref")]
        bound, op = st.text.strip(), st.get("operation")
        for have in installed.get(name, []):
            n = rpm.labelCompare(evr(have), evr(bound))
            if op == "less than" and n < 0:
                fixed = bound.split(":", 1)[1].strip() if bound.startswith("0:") else bound
                out += [[cve, name, have, fixed] for cve in cves]
            elif op == "less than or equal" and n <= 0:
                out += [[cve, name, have, ""] for cve in cves]
json.dump(out, sys.stdout)
`

// AzureLinuxFinding is one finding the Azure Linux oracle expects.
type AzureLinuxFinding struct {
	CVE, Package, Installed, Fixed string
}

// AzureLinuxFindings derives, independently of Tidewatch's OVAL converter and
// matcher, the findings the shared OVAL document file ("cbl-mariner-2.0-oval.xml")
// implies for pkgs (as RPMQueryAll lists them), ordering versions with rpm's own
// rpm.labelCompare. Without python3-rpm the test is skipped, or failed under
// TIDEWATCH_TEST_REQUIRE_SERVICES=1.
func AzureLinuxFindings(t testing.TB, file string, pkgs []RPMPackage) []AzureLinuxFinding {
	t.Helper()
	NewRPMVersions(t)
	installed := make([][2]string, 0, len(pkgs))
	for _, p := range pkgs {
		installed = append(installed, [2]string{p.Package, p.EVR()})
	}
	in, err := json.Marshal(map[string]any{"oval": filepath.Join(Shared(t), "oval", file), "installed": installed})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rpmPython, "-c", ovalOracleScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("OVAL oracle over %s: %v\n%s", file, err, stderr.String())
	}
	var rows [][4]string
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("OVAL oracle printed %q: %v", out, err)
	}
	findings := make([]AzureLinuxFinding, 0, len(rows))
	for _, r := range rows {
		findings = append(findings, AzureLinuxFinding{CVE: r[0], Package: r[1], Installed: r[2], Fixed: r[3]})
	}
	return findings
}
