package testenv

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// MavenPackage is one Maven artifact a jar's pom.properties names, at the archive it
// was read from: the file's path in the image, or for a nested archive
// outer.jar!/BOOT-INF/lib/inner.jar.
type MavenPackage struct {
	Name     string // groupId:artifactId
	Version  string
	Location string
}

// mavenTestdata returns testenv's testdata/maven directory.
func mavenTestdata(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "maven")
}

// MavenJar returns the bytes of a Debian jar of the fixture: "commons-io.jar" or
// "commons-text.jar" (see testdata/maven/SOURCES.md).
func MavenJar(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mavenTestdata(t), "jars", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MavenAdvisories writes an advisory directory holding Maven/all.zip, an OSV export
// of the GHSA records in testdata/maven/advisories, and returns it.
func MavenAdvisories(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(mavenTestdata(t), "advisories")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		members[e.Name()] = string(b)
	}
	out := t.TempDir()
	WriteOSVExport(t, out, mavenEcosystem, members)
	return out
}

// ZipEntry is one member of a zip built by Zip.
type ZipEntry struct {
	Name string
	Body []byte
	// Stored writes it uncompressed, as Spring Boot stores nested jars.
	Stored bool
}

// Zip builds a zip (a jar) of entries, in order.
func Zip(t testing.TB, entries ...ZipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := zip.Deflate
		if e.Stored {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SpringBootJar assembles a Spring-Boot-style executable jar: a launcher manifest,
// an application class and libs stored uncompressed under BOOT-INF/lib/.
func SpringBootJar(t testing.TB, libs map[string][]byte) []byte {
	t.Helper()
	entries := []ZipEntry{
		{Name: "META-INF/MANIFEST.MF", Body: []byte("Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\r\n" +
			"Start-Class: com.example.Demo\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n\r\n")},
		{Name: "BOOT-INF/classes/com/example/Demo.class", Body: []byte("\xca\xfe\xba\xbe")},
	}
	for _, name := range slices.Sorted(maps.Keys(libs)) {
		entries = append(entries, ZipEntry{Name: "BOOT-INF/lib/" + name, Body: libs[name], Stored: true})
	}
	return Zip(t, entries...)
}

// ReadMavenPackages lists the artifacts of the archive data found at location: the
// pom.properties files it holds (META-INF/maven/<group>/<artifact>/pom.properties)
// and, recursively, those of the .jar/.war/.ear members it holds, sorted by Location
// then Name. It reads with archive/zip alone, independently of Tidewatch and
// osv-scalibr.
func ReadMavenPackages(t testing.TB, location string, data []byte) []MavenPackage {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("reading %s: %v", location, err)
	}
	var out []MavenPackage
	for _, f := range zr.File {
		body := func() []byte {
			rc, err := f.Open()
			if err != nil {
				t.Fatalf("opening %s in %s: %v", f.Name, location, err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("reading %s in %s: %v", f.Name, location, err)
			}
			return b
		}
		switch ext := strings.ToLower(path.Ext(f.Name)); {
		case path.Base(f.Name) == "pom.properties":
			props := parseProperties(body())
			out = append(out, MavenPackage{Name: props["groupId"] + ":" + props["artifactId"], Version: props["version"], Location: location})
		case ext == ".jar" || ext == ".war" || ext == ".ear":
			out = append(out, ReadMavenPackages(t, location+"!/"+f.Name, body())...)
		}
	}
	slices.SortFunc(out, func(a, b MavenPackage) int {
		return cmp.Or(strings.Compare(a.Location, b.Location), strings.Compare(a.Name, b.Name))
	})
	return out
}

// parseProperties reads key=value lines of a Java properties file, skipping
// comments; enough for Maven's generated pom.properties.
func parseProperties(b []byte) map[string]string {
	props := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return props
}
