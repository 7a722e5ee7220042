package inventory_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// binaryFile is a tar entry holding data.
func binaryFile(name string, data []byte) testenv.TarEntry {
	return testenv.TarEntry{Name: name, Size: int64(len(data)), Body: func() io.Reader { return bytes.NewReader(data) }}
}

// inventoryOf analyzes and merges layers.
func inventoryOf(t *testing.T, layers ...v1.Layer) *inventory.Inventory {
	t.Helper()
	var results []*inventory.LayerResult
	for _, l := range layers {
		r, err := inventory.AnalyzeLayer(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	inv, err := inventory.Merge(results)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// mavenOf lists the Maven packages of inv as the truth reader writes them, and
// checks what each must also say: ecosystem Maven and the PURL the package-url spec
// gives a Maven artifact (pkg:maven/<group>/<artifact>@<version>).
func mavenOf(t *testing.T, inv *inventory.Inventory) []testenv.MavenPackage {
	t.Helper()
	var out []testenv.MavenPackage
	for _, p := range inv.Packages {
		if p.Type != "maven" {
			continue
		}
		group, artifact, _ := strings.Cut(p.Name, ":")
		if want := "pkg:maven/" + group + "/" + artifact + "@" + p.Version; p.Ecosystem != "Maven" || p.PURL != want {
			t.Errorf("%s at %s: ecosystem %q purl %q, want Maven and %s", p.Name, p.Location, p.Ecosystem, p.PURL, want)
		}
		out = append(out, testenv.MavenPackage{Name: p.Name, Version: p.Version, Location: p.Location})
	}
	slices.SortFunc(out, func(a, b testenv.MavenPackage) int {
		if c := strings.Compare(a.Location, b.Location); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func TestJavaArchivesAreInventoriedAsTheirPomPropertiesSayNestedOnesIncluded(t *testing.T) {
	commonsIO, text := testenv.MavenJar(t, "commons-io.jar"), testenv.MavenJar(t, "commons-text.jar")
	boot := testenv.SpringBootJar(t, map[string][]byte{"commons-io-2.11.0.jar": commonsIO, "commons-text-1.10.0.jar": text})
	war := testenv.Zip(t, testenv.ZipEntry{Name: "WEB-INF/web.xml", Body: []byte("<web-app/>")},
		testenv.ZipEntry{Name: "WEB-INF/lib/commons-io.jar", Body: commonsIO})
	ear := testenv.Zip(t, testenv.ZipEntry{Name: "shop.war", Body: war})
	files := map[string][]byte{
		"usr/share/java/commons-io.jar":   commonsIO,
		"usr/share/java/commons-text.jar": text,
		"app/app.jar":                     boot,
		"srv/shop.ear":                    ear,
	}
	// A hard link is the same file: its packages are the Boot jar's at its path.
	files["app/link.jar"] = boot
	// A "fully executable" Boot jar starts with a launch script before the zip.
	launchable := append([]byte("#!/bin/bash\nexec java -jar \"$0\" \"$@\"\n"), boot...)
	files["opt/launch.jar"] = launchable
	var want []testenv.MavenPackage
	for location, data := range files {
		want = append(want, testenv.ReadMavenPackages(t, location, data)...)
	}
	if len(want) != 9 {
		t.Fatalf("the truth reader finds %d artifacts, want 9 (2 jars, 2 in the Boot jar, its link and its launchable copy, 1 in the ear's war): %+v", len(want), want)
	}
	inv := inventoryOf(t,
		testenv.GzipLayer(t, testenv.Tar(binaryFile("usr/share/java/commons-io.jar", commonsIO), binaryFile("usr/share/java/commons-text.jar", text))),
		testenv.GzipLayer(t, testenv.Tar(binaryFile("app/app.jar", boot), testenv.Hardlink("app/link.jar", "app/app.jar"),
			binaryFile("srv/shop.ear", ear), binaryFile("opt/launch.jar", launchable))))
	got := mavenOf(t, inv)
	slices.SortFunc(want, func(a, b testenv.MavenPackage) int {
		if c := strings.Compare(a.Location, b.Location); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Maven packages (-pom.properties +inventory):\n%s", diff)
	}
	if len(inv.Skipped) > 0 {
		t.Errorf("skipped %+v, want nothing", inv.Skipped)
	}
	for _, p := range inv.Packages {
		if wantLayer := map[bool]int{true: 0, false: 1}[strings.HasPrefix(p.Location, "usr/")]; p.LayerIndex != wantLayer {
			t.Errorf("%s at %s: layer %d, want %d", p.Name, p.Location, p.LayerIndex, wantLayer)
		}
	}
}

// nestedJars wraps inner in depth jars, each holding the next as lib/a.jar.
func nestedJars(t *testing.T, inner []byte, depth int) []byte {
	t.Helper()
	for range depth {
		inner = testenv.Zip(t, testenv.ZipEntry{Name: "lib/a.jar", Body: inner})
	}
	return inner
}

// lyingSize rewrites the uncompressed size the central directory states for the
// entry named name.
func lyingSize(t *testing.T, zipped []byte, name string, size uint32) []byte {
	t.Helper()
	return lyingField(t, zipped, name, 24, size)
}

// lyingField rewrites the 32-bit field at offset (16 CRC-32, 24 uncompressed size)
// of the central directory header of the entry named name.
func lyingField(t *testing.T, zipped []byte, name string, offset int, value uint32) []byte {
	t.Helper()
	out := bytes.Clone(zipped)
	eocd := bytes.LastIndex(out, []byte("PK\x05\x06"))
	for i := int(binary.LittleEndian.Uint32(out[eocd+16:])); i < eocd; {
		nameLen := int(binary.LittleEndian.Uint16(out[i+28:]))
		extraLen := int(binary.LittleEndian.Uint16(out[i+30:]))
		commentLen := int(binary.LittleEndian.Uint16(out[i+32:]))
		if string(out[i+46:i+46+nameLen]) == name {
			binary.LittleEndian.PutUint32(out[i+offset:], value)
			return out
		}
		i += 46 + nameLen + extraLen + commentLen
	}
	t.Fatalf("no central directory entry %s", name)
	return nil
}

// overlapping builds a zip whose central directory lists n entries that all point
// at the one local copy of data (stored), the overlapping-entries zip bomb.
func overlapping(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	one := testenv.Zip(t, testenv.ZipEntry{Name: "lib/a.jar", Body: data, Stored: true})
	eocd := bytes.LastIndex(one, []byte("PK\x05\x06"))
	cd := int(binary.LittleEndian.Uint32(one[eocd+16:]))
	entry := one[cd:eocd]
	out := bytes.Clone(one[:cd])
	for range n {
		out = append(out, entry...)
	}
	end := bytes.Clone(one[eocd:])
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n*len(entry)))
	binary.LittleEndian.PutUint32(end[16:], uint32(cd))
	return append(out, end...)
}

func TestHostileJavaArchivesAreSkippedWithTheirReasonAndTheRestIsInventoried(t *testing.T) {
	commonsIO := testenv.MavenJar(t, "commons-io.jar")
	bootWithIO := testenv.SpringBootJar(t, map[string][]byte{"commons-io.jar": commonsIO})
	manifestBomb := testenv.Zip(t, testenv.ZipEntry{Name: "META-INF/MANIFEST.MF", Body: bytes.Repeat([]byte("X-A: b\r\n"), 300_000)})
	tests := []struct {
		name, path string
		entry      testenv.TarEntry
		reason     string
	}{
		{"a jar bomb nested 20 deep is skipped at the depth cap", "opt/bomb.jar",
			binaryFile("opt/bomb.jar", nestedJars(t, commonsIO, 20)), "lib/a.jar!/lib/a.jar!/lib/a.jar!/lib/a.jar is nested more than 4 archives deep"},
		{"a jar whose central directory understates a nested jar is skipped", "opt/liar.jar",
			binaryFile("opt/liar.jar", lyingSize(t, bootWithIO, "BOOT-INF/lib/commons-io.jar", 1000)), "reading BOOT-INF/lib/commons-io.jar: zip: not a valid zip file"},
		{"a jar whose central directory states a wrong CRC for a nested jar is skipped", "opt/crc.jar",
			binaryFile("opt/crc.jar", lyingField(t, bootWithIO, "BOOT-INF/lib/commons-io.jar", 16, 0xdeadbeef)), "reading BOOT-INF/lib/commons-io.jar: zip: checksum error"},
		{"a jar whose central directory overstates a nested jar past the budget is skipped", "opt/inflated.jar",
			binaryFile("opt/inflated.jar", lyingSize(t, bootWithIO, "BOOT-INF/lib/commons-io.jar", 100<<20)), "BOOT-INF/lib/commons-io.jar states 104857600 bytes, more than the"},
		{"a jar repeating one nested jar's data until the budget is spent is skipped", "opt/overlap.jar",
			binaryFile("opt/overlap.jar", overlapping(t, commonsIO, 300)), "bytes left of the 64 MiB an archive and its contents may inflate to"},
		{"a jar of a 2 MiB manifest is skipped", "opt/manifest.jar",
			binaryFile("opt/manifest.jar", manifestBomb), "META-INF/MANIFEST.MF states 2400000 bytes, more than the 1024 KiB read of a descriptor"},
		{"a jar of a 2 MiB manifest named with a trailing slash is skipped", "opt/slash.jar",
			binaryFile("opt/slash.jar", bytes.ReplaceAll(testenv.Zip(t, testenv.ZipEntry{Name: "META-INF/MANIFEST.MF_", Body: bytes.Repeat([]byte("X-A: b\r\n"), 300_000)}),
				[]byte("META-INF/MANIFEST.MF_"), []byte("META-INF/MANIFEST.MF/"))),
			"META-INF/MANIFEST.MF/ states 2400000 bytes, more than the 1024 KiB read of a descriptor"},
		{"a jar that is not a zip is skipped", "opt/garbage.jar",
			binaryFile("opt/garbage.jar", bytes.Repeat([]byte("garbage "), 100)), "not a readable zip"},
		{"a jar over 64 MiB is skipped unread", "opt/huge.jar",
			testenv.TarEntry{Name: "opt/huge.jar", Size: 65 << 20, Body: func() io.Reader { return io.LimitReader(&testenv.RepeatReader{S: "PK"}, 65<<20) }},
			"more than the 64 MiB read whole for java/archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" and a good jar beside it is still inventoried", func(t *testing.T) {
			inv := inventoryOf(t, testenv.GzipLayer(t, testenv.Tar(binaryFile("usr/share/java/commons-io.jar", commonsIO), tt.entry)))
			want := testenv.ReadMavenPackages(t, "usr/share/java/commons-io.jar", commonsIO)
			if diff := cmp.Diff(want, mavenOf(t, inv)); diff != "" {
				t.Errorf("Maven packages (-want +got):\n%s", diff)
			}
			if len(inv.Skipped) != 1 || inv.Skipped[0].Path != tt.path || !strings.Contains(inv.Skipped[0].Reason, tt.reason) {
				t.Fatalf("skipped %+v, want only %s with a reason containing %q", inv.Skipped, tt.path, tt.reason)
			}
		})
	}
}

func TestJavaArchivesWithoutPomPropertiesFallBackToTheirManifestOrFileName(t *testing.T) {
	class := testenv.ZipEntry{Name: "org/example/A.class", Body: []byte("\xca\xfe\xba\xbe")}
	tests := []struct {
		name, path string
		jar        []byte
		want       []testenv.MavenPackage
	}{
		{"a manifest naming vendor id, title and version gives group, artifact and version", "opt/lib/io.jar",
			testenv.Zip(t, testenv.ZipEntry{Name: "META-INF/MANIFEST.MF", Body: []byte("Manifest-Version: 1.0\r\nImplementation-Title: commons-io\r\n" +
				"Implementation-Vendor-Id: commons-io\r\nImplementation-Version: 2.11.0\r\n\r\n")}, class),
			[]testenv.MavenPackage{{Name: "commons-io:commons-io", Version: "2.11.0", Location: "opt/lib/io.jar"}}},
		{"a file name artifact-version.jar gives a legacy group equal to the artifact", "opt/lib/commons-io-2.11.0.jar",
			testenv.Zip(t, class),
			[]testenv.MavenPackage{{Name: "commons-io:commons-io", Version: "2.11.0", Location: "opt/lib/commons-io-2.11.0.jar"}}},
		{"a jar with nothing to identify it lists nothing and is not skipped", "opt/lib/app.jar",
			testenv.Zip(t, class), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := inventoryOf(t, testenv.GzipLayer(t, testenv.Tar(binaryFile(tt.path, tt.jar))))
			if diff := cmp.Diff(tt.want, mavenOf(t, inv)); diff != "" {
				t.Errorf("Maven packages (-want +got):\n%s", diff)
			}
			if len(inv.Skipped) > 0 {
				t.Errorf("skipped %+v, want nothing", inv.Skipped)
			}
		})
	}
}

// BenchmarkAnalyzeLayerOfASpringBootJar measures one layer holding a 50 MiB-class
// Boot jar: 80 Debian jars stored under BOOT-INF/lib.
func BenchmarkAnalyzeLayerOfASpringBootJar(b *testing.B) {
	commonsIO, text := testenv.MavenJar(b, "commons-io.jar"), testenv.MavenJar(b, "commons-text.jar")
	libs := map[string][]byte{}
	for i := range 40 {
		libs[strings.Repeat("x", i)+"commons-io.jar"] = commonsIO
		libs[strings.Repeat("x", i)+"commons-text.jar"] = text
	}
	boot := testenv.SpringBootJar(b, libs)
	layer := testenv.GzipLayer(b, testenv.Tar(binaryFile("app/app.jar", boot)))
	b.SetBytes(int64(len(boot)))
	b.ResetTimer()
	for b.Loop() {
		r, err := inventory.AnalyzeLayer(context.Background(), layer)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(r.PackageFiles["app/app.jar"]); n != 80 {
			b.Fatalf("%d packages, want 80", n)
		}
	}
}
