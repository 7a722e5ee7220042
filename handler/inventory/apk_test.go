package inventory_test

import (
	"cmp"
	"context"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/purl"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

const apkDB = "lib/apk/db/installed"

// apkRecord is one lib/apk/db/installed record as apk writes it (with a file list).
func apkRecord(name, version, origin string) string {
	var b strings.Builder
	b.WriteString("C:Q1eVpkSsJ3XCILkUhjaYyEnz1Bq5Q=\nP:" + name + "\nV:" + version + "\nA:x86_64\nS:1000\nI:4096\nT:test package\n")
	if origin != "" {
		b.WriteString("o:" + origin + "\n")
	}
	b.WriteString("F:usr/lib\nR:lib" + name + ".so\nZ:Q1hGnLI8wmYGzpyGuE0Mqp+ATwkN0=\n\n")
	return b.String()
}

func TestScanMatchesApkSidecarInventory(t *testing.T) {
	want := testenv.ReadSidecar(t, "alpine-3.4")
	target, err := image.FromArchive(testenv.Image(t, "alpine-3.4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(target.Platforms) != len(want.ApkInventory) {
		t.Fatalf("%d platforms, sidecar has %d apk inventories", len(target.Platforms), len(want.ApkInventory))
	}
	for _, p := range target.Platforms {
		platform := p.Platform.String()
		t.Run(platform+" equals lib/apk/db/installed as the sidecar parsed it", func(t *testing.T) {
			truth, ok := want.ApkInventory[platform]
			if !ok {
				t.Fatalf("sidecar has no apk inventory for %s", platform)
			}
			inv, err := inventory.Scan(context.Background(), p, inventory.NewMemoryCache())
			if err != nil {
				t.Fatal(err)
			}
			wantOS := &inventory.OS{OSRelease: inventory.OSRelease{ID: want.OSRelease.ID, VersionID: want.OSRelease.VersionID,
				PrettyName: want.OSRelease.PrettyName}, Ecosystem: "Alpine:v3.4"}
			if diff := gocmp.Diff(wantOS, inv.OS); diff != "" {
				t.Errorf("OS (-sidecar +scanned):\n%s", diff)
			}
			var layer string
			for _, m := range want.Manifests {
				if m.Platform == platform && len(m.Layers) == 1 {
					layer = m.Layers[0].DiffID
				}
			}
			if layer == "" {
				t.Fatalf("sidecar has no single layer for %s", platform)
			}
			var got []testenv.ApkPackage
			for _, pkg := range inv.Packages {
				got = append(got, testenv.ApkPackage{Package: pkg.Name, Version: pkg.Version, Origin: pkg.SourceName, Architecture: pkg.Arch})
				where := []string{pkg.Type, pkg.Ecosystem, pkg.SourceVersion, pkg.Location, pkg.LayerDiffID, strconv.Itoa(pkg.LayerIndex)}
				if diff := gocmp.Diff([]string{"apk", "Alpine:v3.4", pkg.Version, apkDB, layer, "0"}, where); diff != "" {
					t.Errorf("%s: type, ecosystem, source version, location, layer (-want +got):\n%s", pkg.Name, diff)
				}
				checkApkPURL(t, pkg, "alpine", want.OSRelease.VersionID)
			}
			wantPkgs := slices.Clone(truth.Packages)
			slices.SortFunc(wantPkgs, func(a, b testenv.ApkPackage) int { return cmp.Compare(a.Package, b.Package) })
			if diff := gocmp.Diff(wantPkgs, got); diff != "" {
				t.Errorf("packages (-sidecar +scanned):\n%s", diff)
			}
			if len(got) != truth.PackageCount {
				t.Errorf("%d packages, sidecar packageCount %d", len(got), truth.PackageCount)
			}
			if len(inv.Skipped) != 0 {
				t.Errorf("skipped %+v, want nothing", inv.Skipped)
			}
		})
	}
}

// checkApkPURL checks an apk package's URL against the purl-spec apk type: the
// namespace is the distribution, name lower case, origin and arch qualifiers.
func checkApkPURL(t *testing.T, pkg inventory.Package, namespace, distro string) {
	t.Helper()
	u, err := purl.FromString(pkg.PURL)
	if err != nil {
		t.Errorf("package %s has PURL %q: %v", pkg.Name, pkg.PURL, err)
		return
	}
	q := map[string]string{}
	for _, kv := range u.Qualifiers {
		q[kv.Key] = kv.Value
	}
	got := []string{u.Type, u.Namespace, u.Name, u.Version, q["arch"], q["origin"], q["distro"]}
	want := []string{"apk", namespace, strings.ToLower(pkg.Name), pkg.Version, pkg.Arch, pkg.SourceName, distro}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("PURL %q of %s (-want +got):\n%s", pkg.PURL, pkg.Name, diff)
	}
}

func TestApkDistributionsAreToldApartByOSRelease(t *testing.T) {
	db := apkRecord("busybox", "1.36.1-r5", "") + apkRecord("libcrypto3", "3.1.4-r0", "openssl")
	tests := []struct {
		name, osRelease, wantEcosystem, wantNamespace string
	}{
		{"Alpine 3.4.0 is the v3.4 branch", "ID=alpine\nVERSION_ID=3.4.0\n", "Alpine:v3.4", "alpine"},
		{"Alpine 3.20.3 is the v3.20 branch", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n", "Alpine:v3.20", "alpine"},
		{"an Alpine edge snapshot without a major.minor has no ecosystem", "ID=alpine\nVERSION_ID=edge\n", "", "alpine"},
		{"Wolfi is Wolfi whatever its build date", "ID=wolfi\nNAME=\"Wolfi\"\nVERSION_ID=20230201\n", "Wolfi", "wolfi"},
		{"Chainguard is Chainguard, not Wolfi", "ID=chainguard\nNAME=\"Chainguard\"\nVERSION_ID=20230214\n", "Chainguard", "chainguard"},
		{"apk packages in a Debian image match no advisories", "ID=debian\nVERSION_ID=\"12\"\n", "", "debian"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(testenv.File("etc/os-release", tt.osRelease), testenv.File(apkDB, db))))
			if inv.OS == nil {
				t.Fatal("no OS detected")
			}
			var got [][]string
			for _, p := range inv.Packages {
				u, err := purl.FromString(p.PURL)
				if err != nil {
					t.Fatalf("%s: PURL %q: %v", p.Name, p.PURL, err)
				}
				got = append(got, []string{p.Name, p.SourceName, p.Ecosystem, u.Namespace})
			}
			want := [][]string{{"busybox", "busybox", tt.wantEcosystem, tt.wantNamespace}, {"libcrypto3", "openssl", tt.wantEcosystem, tt.wantNamespace}}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("name, origin, ecosystem, PURL namespace (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("dpkg packages in an Alpine image match no advisories", func(t *testing.T) {
		inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(testenv.File("etc/os-release", "ID=alpine\nVERSION_ID=3.4.0\n"),
			testenv.File("var/lib/dpkg/status", testenv.OpensslStanza))))
		for _, p := range inv.Packages {
			if p.Ecosystem != "" {
				t.Errorf("%s (%s) has ecosystem %q in an Alpine image", p.Name, p.Type, p.Ecosystem)
			}
		}
		if len(inv.Packages) == 0 {
			t.Error("the dpkg database was not inventoried")
		}
	})
}

func TestHostileApkDatabasesAreNeverSilentlyClean(t *testing.T) {
	osRelease := testenv.File("etc/os-release", "ID=alpine\nVERSION_ID=3.4.0\n")
	musl := apkRecord("musl", "1.1.14-r10", "")
	const bigRecord = 40 << 20 // over maxApkRecordBytes: one package claiming a million files
	tests := []struct {
		name        string
		layers      [][]testenv.TarEntry
		wantPkgs    []string
		wantSkipped []string
		maxReason   int
	}{
		{
			name:        "garbage that is no apk database is incomplete",
			layers:      [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, "\x7fELF\x02\x01\x01\x00 not a database\n\x00\x01")}},
			wantSkipped: []string{apkDB},
		},
		{
			name:        "a garbage line is quoted in the reason only in part",
			layers:      [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, strings.Repeat("\x01", 60<<10)+"\n")}},
			wantSkipped: []string{apkDB},
			maxReason:   512,
		},
		{
			name:        "a line longer than the parser reads is incomplete",
			layers:      [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, musl+"P:x\nT:"+strings.Repeat("x", 1<<20)+"\n")}},
			wantSkipped: []string{apkDB},
		},
		{
			name: "a record past the parser's bounds is incomplete",
			layers: [][]testenv.TarEntry{{osRelease, testenv.TarEntry{Name: apkDB, Size: int64(len(musl)) + bigRecord, Body: func() io.Reader {
				return io.MultiReader(strings.NewReader(musl), io.LimitReader(&testenv.RepeatReader{S: "R:some/file/of/a/huge/package\n"}, bigRecord))
			}}}},
			wantSkipped: []string{apkDB},
		},
		{
			name: "more records than the parser holds is incomplete",
			layers: [][]testenv.TarEntry{{osRelease, testenv.TarEntry{Name: apkDB, Size: 250_000 * 16, Body: func() io.Reader {
				return io.LimitReader(&testenv.RepeatReader{S: "P:many\nV:1-r0\n\n"}, 250_000*16)
			}}}},
			wantSkipped: []string{apkDB},
		},
		{
			name:     "an installed database that is a symlink into usr/lib, as newer Alpine has it, is read once",
			layers:   [][]testenv.TarEntry{{osRelease, testenv.Symlink(apkDB, "../../../usr/lib/apk/db/installed"), testenv.File("usr/lib/apk/db/installed", musl)}},
			wantPkgs: []string{"musl=1.1.14-r10"},
		},
		{
			name:     "an installed database that is a symlink to a file no extractor wants is followed",
			layers:   [][]testenv.TarEntry{{osRelease, testenv.Symlink(apkDB, "/srv/apk.db"), testenv.File("srv/apk.db", musl)}},
			wantPkgs: []string{"musl=1.1.14-r10"},
		},
		{
			name:        "an installed database linked outside the image resolves inside it and is incomplete",
			layers:      [][]testenv.TarEntry{{osRelease, testenv.Symlink(apkDB, "../../../../../../../../lib/apk/db/installed.host")}},
			wantSkipped: []string{apkDB},
		},
		{
			name:        "a symlink loop is incomplete",
			layers:      [][]testenv.TarEntry{{osRelease, testenv.Symlink(apkDB, "/var/lib/apk/db/installed"), testenv.Symlink("var/lib/apk/db/installed", "/lib/apk/db/installed")}},
			wantSkipped: []string{apkDB, "var/lib/apk/db/installed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tt.layers {
				layers = append(layers, newStreamedLayer(t, testenv.Tar(entries...)))
			}
			inv := scanLayers(t, layers...)
			if diff := gocmp.Diff(tt.wantPkgs, names(inv)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
			for _, s := range inv.Skipped {
				if s.Reason == "" || (tt.maxReason > 0 && len(s.Reason) > tt.maxReason) {
					t.Errorf("%s: reason of %d bytes, want 1 to %d: %.80q", s.Path, len(s.Reason), tt.maxReason, s.Reason)
				}
			}
		})
	}
}

func TestApkPackagesAreAttributedToTheLayerThatInstalledThem(t *testing.T) {
	osRelease := testenv.File("etc/os-release", "ID=alpine\nVERSION_ID=3.4.0\n")
	musl, zlib := apkRecord("musl", "1.1.14-r10", ""), apkRecord("zlib", "1.2.8-r2", "")
	zlibFixed := apkRecord("zlib", "1.2.11-r0", "")
	tests := []struct {
		name   string
		layers [][]testenv.TarEntry
		want   []string // name=version@layer
	}{
		{name: "a package added by an upper layer's database is that layer's, the others stay below",
			layers: [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, musl)}, {testenv.File(apkDB, musl+zlib)}},
			want:   []string{"musl=1.1.14-r10@0", "zlib=1.2.8-r2@1"}},
		{name: "an upgrade is attributed to the layer that upgraded it",
			layers: [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, musl+zlib)}, {testenv.File(apkDB, musl+zlibFixed)}},
			want:   []string{"musl=1.1.14-r10@0", "zlib=1.2.11-r0@1"}},
		{name: "a database deleted by a whiteout lists nothing",
			layers: [][]testenv.TarEntry{{osRelease, testenv.File(apkDB, musl)}, {testenv.File("lib/apk/db/.wh.installed", "")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tt.layers {
				layers = append(layers, newStreamedLayer(t, testenv.Tar(entries...)))
			}
			var got []string
			for _, p := range scanLayers(t, layers...).Packages {
				got = append(got, p.Name+"="+p.Version+"@"+strconv.Itoa(p.LayerIndex))
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAGigabyteApkDatabaseIsSkippedInBoundedMemoryAndTheRestOfTheImageScanned(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	record := apkRecord("musl", "1.1.14-r10", "")
	layersOf := func(size int64) []v1.Layer {
		return []v1.Layer{
			newStreamedLayer(t, testenv.Tar(
				testenv.File("etc/os-release", "ID=alpine\nVERSION_ID=3.4.0\n"),
				testenv.TarEntry{Name: apkDB, Size: size, Body: func() io.Reader {
					return io.LimitReader(&testenv.RepeatReader{S: record}, size)
				}},
				// After the database in its own layer, and in the next layer.
				testenv.File("app/node_modules/left-pad/package.json", `{"name": "left-pad", "version": "1.3.0"}`),
			)),
			newStreamedLayer(t, testenv.Tar(testenv.File("srv/node_modules/is-odd/package.json", `{"name": "is-odd", "version": "3.0.1"}`))),
		}
	}
	// allocated is everything a scan allocates, not only what stays live: a reader
	// that held the file, or a record per stanza of all of it, allocates with its size.
	allocated := func(layers []v1.Layer) (*inventory.Inventory, uint64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		inv := scanLayers(t, layers...)
		runtime.ReadMemStats(&after)
		return inv, after.TotalAlloc - before.TotalAlloc
	}
	// 64 MiB is past the parser's bounds already (200,000 records of this one).
	_, atBound := allocated(layersOf(64 << 20))
	inv, atGigabyte := allocated(layersOf(1 << 30))

	if diff := gocmp.Diff([]string{apkDB}, skippedPaths(inv)); diff != "" {
		t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
	}
	for _, s := range inv.Skipped {
		if !strings.Contains(s.Reason, "exceeds the parser's bounds") {
			t.Errorf("%s skipped for %q, want the parser's bounds named", s.Path, s.Reason)
		}
	}
	got := []string{}
	for _, p := range inv.Packages {
		got = append(got, p.Name+"="+p.Version+" "+p.Location)
	}
	slices.Sort(got)
	want := []string{"is-odd=3.0.1 srv/node_modules/is-odd/package.json", "left-pad=1.3.0 app/node_modules/left-pad/package.json"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if atGigabyte > atBound+atBound/4 {
		t.Errorf("the scan of a 1 GiB database allocated %d MiB, of a 64 MiB one %d MiB: want the same, bounded by the parser, not the file",
			atGigabyte>>20, atBound>>20)
	}
}
