package inventory_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
)

func TestDecodeReadsBackWhatEncodingJSONStored(t *testing.T) {
	stored := &inventory.Inventory{
		OS: &inventory.OS{OSRelease: inventory.OSRelease{ID: "debian", VersionID: "12", VersionCodename: "bookworm",
			PrettyName: "Debian GNU/Linux 12 (bookworm)"}, Ecosystem: "Debian:12"},
		Skipped: []inventory.SkippedFile{{Path: "usr/bin/huge", LayerIndex: 1, Reason: "larger than the 100 MiB cap"}},
		Layers:  []inventory.Layer{{Index: 0, DiffID: "sha256:aa"}, {Index: 1, DiffID: "sha256:bb"}},
		Packages: []inventory.Package{
			{Name: "libssl3", Version: "3.0.11-1~deb12u2", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2",
				Arch: "amd64", Type: "deb", Ecosystem: "Debian:12", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64",
				Location: "var/lib/dpkg/status", LayerIndex: 0, LayerDiffID: "sha256:aa"},
			{Name: "stdlib", Version: "1.22.1", SourceName: "stdlib", SourceVersion: "1.22.1", Type: "golang",
				Ecosystem: "Go", Location: "usr/local/bin/app \"quoted\" \u00e9", LayerIndex: 1, LayerDiffID: "sha256:bb"},
		},
		Analyzer: inventory.Analyzer,
	}
	data, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	got, err := inventory.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("decoded inventory (-stored +decoded):\n%s", diff)
	}
	t.Run("text that is not an inventory is an error", func(t *testing.T) {
		if _, err := inventory.Decode([]byte(`{"packages": 7}`)); err == nil {
			t.Error("decoding a number as the package list succeeded")
		}
	})
}
