package advisory_test

import (
	"context"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestAffectedComparesPyPINamesNormalized(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "PyPI", map[string]string{
		"PYSEC-1.json": `{"id":"PYSEC-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"jw.util"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.3"}]}]}]}`,
		"PYSEC-2.json": `{"id":"PYSEC-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"pyyaml"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.4"}]}]}]}`,
	})
	testenv.WriteOSVExport(t, dir, "npm", map[string]string{
		"GHSA-1.json": `{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"JSONStream"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.1"}]}]}]}`,
	})
	testenv.WriteOSVExport(t, dir, "NuGet", map[string]string{
		"GHSA-2.json": `{"id":"GHSA-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"NuGet","name":"Newtonsoft.Json"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"13.0.1"}]}]}]}`,
	})
	idx, err := advisory.Load(context.Background(), dir, []string{"PyPI", "npm", "NuGet"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ecosystem, pkg, want string
	}{
		{"a PyPI name in another case finds its record", "PyPI", "PyYAML", "PYSEC-2"},
		{"a PyPI name with _ for . finds its record", "PyPI", "JW_Util", "PYSEC-1"},
		{"a PyPI name with runs of separators finds its record", "PyPI", "jw-._util", "PYSEC-1"},
		{"an npm name is compared exactly", "npm", "JSONStream", "GHSA-1"},
		{"an npm name in another case is another package", "npm", "jsonstream", ""},
		{"a NuGet id in another case finds its record", "NuGet", "newtonsoft.JSON", "GHSA-2"},
		{"a NuGet id with another separator is another package", "NuGet", "Newtonsoft-Json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for _, a := range idx.Affected(tt.ecosystem, tt.pkg) {
				got += a.Record.ID
			}
			if got != tt.want {
				t.Errorf("Affected(%s, %s) = %q, want %q", tt.ecosystem, tt.pkg, got, tt.want)
			}
		})
	}
}
