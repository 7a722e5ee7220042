package inventory_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestTheApplicationFixtureIsInventoriedExactlyAsItsTruth(t *testing.T) {
	inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(testenv.AppsEntries(t)...)))
	if len(inv.Skipped) != 0 {
		t.Errorf("skipped files: %+v", inv.Skipped)
	}
	var got []testenv.AppsPackage
	purls := map[string]string{}
	for _, p := range inv.Packages {
		got = append(got, testenv.AppsPackage{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version, Location: p.Location})
		purls[p.Name] = p.PURL
	}
	sortApps(got)
	want := testenv.ReadAppsTruth(t)
	sortApps(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-truth.json +inventory):\n%s", diff)
	}
	// Package URLs as the purl spec's type definitions write them
	// (github.com/package-url/purl-spec, PURL-TYPES.rst).
	for name, want := range map[string]string{
		"Newtonsoft.Json":           "pkg:nuget/Newtonsoft.Json@12.0.3",
		"smallvec":                  "pkg:cargo/smallvec@1.6.0",
		"rexml":                     "pkg:gem/rexml@3.2.5",
		"guzzlehttp/guzzle":         "pkg:composer/guzzlehttp/guzzle@7.4.4",
		"symfony/polyfill-mbstring": "pkg:composer/symfony/polyfill-mbstring@v1.28.0",
	} {
		if purls[name] != want {
			t.Errorf("PURL of %s = %q, want %q", name, purls[name], want)
		}
	}
}

func sortApps(pkgs []testenv.AppsPackage) {
	slices.SortFunc(pkgs, func(a, b testenv.AppsPackage) int {
		return strings.Compare(a.Ecosystem+" "+a.Name+" "+a.Location, b.Ecosystem+" "+b.Name+" "+b.Location)
	})
}

// corruptAuditSection returns the fixture's Rust binary with the first bytes of its
// .dep-v0 section (the zlib header) overwritten, located with debug/elf.
func corruptAuditSection(t *testing.T) string {
	t.Helper()
	bin := bytes.Clone(testenv.AppsFile(t, "app/rust/tidewatch-rust-fixture"))
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".dep-v0")
	if sec == nil {
		t.Fatal("the fixture binary has no .dep-v0 section")
	}
	copy(bin[sec.Offset:], "\x00\x00\x00\x00")
	return string(bin)
}

func TestDamagedApplicationFilesAreReportedSkippedAndTheRestInventoried(t *testing.T) {
	const fifty = 50 << 20
	bigDepsJSON := testenv.RepeatEntry("app/big/Big.deps.json", `{"libraries":{"A/1.0.0":{"type":"package"}}}`, fifty)
	bigInstalled := testenv.RepeatEntry("srv/big/vendor/composer/installed.json", `{"packages":[]}`, fifty)
	corrupt := testenv.Executable("app/rust/corrupt", corruptAuditSection(t))
	tests := []struct {
		name   string
		entry  testenv.TarEntry
		reason string
	}{
		{"a 50 MB deps.json is not decoded", bigDepsJSON, "52428800 bytes is more than the 10 MiB dotnet/depsjson reads whole"},
		{"a 50 MB installed.json is not decoded", bigInstalled, "52428800 bytes is more than the 10 MiB php/composerinstalled reads whole"},
		{"a Rust binary whose .dep-v0 is not zlib", corrupt, "inflating the .dep-v0 section: zlib: invalid header"},
		{"a gemspec of garbage", testenv.File("usr/lib/ruby/gems/3.1.0/specifications/garbage-1.0.gemspec", "\x04\x08[\x0bI\"\x0a3.3.7\x06:\x06ET"),
			"no Gem::Specification.new with a literal name and version"},
		{"a gemspec without a version", testenv.File("usr/lib/ruby/gems/3.1.0/specifications/nover-1.0.gemspec", "Gem::Specification.new do |s|\n  s.name = \"nover\"\nend\n"),
			"failed to parse gemspec name (nover) and version ()"},
		{"a deps.json that is not JSON", testenv.File("app/dotnet/Broken.deps.json", `{"libraries": {`), "no libraries read"},
		{"an installed.json that is not JSON", testenv.File("srv/broken/vendor/composer/installed.json", `{"packages": [`), "decoding installed.json: unexpected end of JSON input"},
		{"an installed.json without packages", testenv.File("srv/empty/vendor/composer/installed.json", `{"dev": true}`), "no \"packages\" array"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is reported skipped with its reason, and the fixture is still inventoried whole", func(t *testing.T) {
			entries := append(testenv.AppsEntries(t), tt.entry)
			inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(entries...)))
			if len(inv.Skipped) != 1 || inv.Skipped[0].Path != tt.entry.Name || !strings.Contains(inv.Skipped[0].Reason, tt.reason) {
				t.Errorf("skipped %+v, want only %s with a reason containing %q", inv.Skipped, tt.entry.Name, tt.reason)
			}
			var got []testenv.AppsPackage
			for _, p := range inv.Packages {
				if p.Location != tt.entry.Name {
					got = append(got, testenv.AppsPackage{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version, Location: p.Location})
				}
			}
			sortApps(got)
			want := testenv.ReadAppsTruth(t)
			sortApps(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("packages of the undamaged files (-truth.json +inventory):\n%s", diff)
			}
		})
	}
}

func TestARustBinaryTooBigToBufferIsReportedSkipped(t *testing.T) {
	const big = 65 << 20
	executable := func(name, head string) testenv.TarEntry {
		return testenv.TarEntry{Name: name, Size: big, Mode: 0o755, Body: func() io.Reader {
			return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, big-int64(len(head))))
		}}
	}
	tests := []struct {
		name        string
		file        testenv.TarEntry
		wantSkipped []string
	}{
		{"an ELF file over 64 MiB naming a .dep-v0 section is reported skipped",
			executable("app/huge-rust", "\x7fELF\x02\x01\x01"+strings.Repeat("\x00", 1<<20)+"\x00.dep-v0\x00"), []string{"app/huge-rust"}},
		{"an ELF file over 64 MiB naming a pre-0.5 .rust-deps-v0 section is reported skipped",
			executable("app/huge-old-rust", "\x7fELF\x02\x01\x01"+strings.Repeat("\x00", 1<<20)+"\x00.rust-deps-v0\x00"), []string{"app/huge-old-rust"}},
		{"an ELF file over 64 MiB without one is not a Rust binary to report",
			executable("app/huge-c", "\x7fELF\x02\x01\x01"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(tt.file)))
			if diff := cmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
			for _, s := range inv.Skipped {
				if !strings.Contains(s.Reason, "a Rust binary with cargo-auditable data of 68157440 bytes") {
					t.Errorf("reason %q does not say what was not read", s.Reason)
				}
			}
		})
	}
}

func TestApplicationFilesFollowLayerSemantics(t *testing.T) {
	entries := testenv.AppsEntries(t)
	upper := testenv.Tar(
		testenv.File("srv/php/vendor/composer/.wh.installed.json", ""),
		testenv.File("app/dotnet/Tidewatch.Fixture.deps.json", `{"libraries":{"Newtonsoft.Json/13.0.1":{"type":"package"}}}`),
	)
	inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(entries...)), newStreamedLayer(t, upper))
	got := map[string]string{}
	for _, p := range inv.Packages {
		if p.Ecosystem == "Packagist" || p.Ecosystem == "NuGet" {
			got[p.Name] = fmt.Sprintf("%s layer %d", p.Version, p.LayerIndex)
		}
	}
	want := map[string]string{"Newtonsoft.Json": "13.0.1 layer 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NuGet and Packagist packages after an upper layer deletes installed.json and rewrites deps.json (-want +got):\n%s", diff)
	}
}
