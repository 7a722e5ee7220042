package inventory

import (
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// headerOnlyInfo is what a tar header says of an entry: name, mode and size. Every
// other question fails the test: it would mean FileRequired looks past the path
// and the mode (ModTime, Sys, which on a host file reaches the inode).
type headerOnlyInfo struct {
	t    *testing.T
	name string
	mode fs.FileMode
	size int64
}

func (i headerOnlyInfo) Name() string      { return i.name }
func (i headerOnlyInfo) Mode() fs.FileMode { return i.mode }
func (i headerOnlyInfo) Size() int64       { return i.size }
func (i headerOnlyInfo) IsDir() bool       { return i.mode.IsDir() }
func (i headerOnlyInfo) ModTime() time.Time {
	i.t.Errorf("FileRequired(%s) asked for the modification time", i.name)
	return time.Time{}
}
func (i headerOnlyInfo) Sys() any {
	i.t.Errorf("FileRequired(%s) asked for Sys()", i.name)
	return nil
}

// noIOFileAPI is a FileAPI with a path and a header's mode, and ways to reach the
// file's contents or the host that fail the test if any plugin finds and calls them
// (by a type assertion on the FileAPI).
type noIOFileAPI struct {
	t    *testing.T
	path string
	mode fs.FileMode
	size int64
}

func (f noIOFileAPI) Path() string { return f.path }
func (f noIOFileAPI) Stat() (fs.FileInfo, error) {
	return headerOnlyInfo{t: f.t, name: f.path, mode: f.mode, size: f.size}, nil
}
func (f noIOFileAPI) Open() (fs.File, error) {
	f.t.Errorf("FileRequired(%s) opened the file", f.path)
	return nil, fs.ErrPermission
}
func (f noIOFileAPI) ReadFile() ([]byte, error) {
	f.t.Errorf("FileRequired(%s) read the file", f.path)
	return nil, fs.ErrPermission
}
func (f noIOFileAPI) ReadAt([]byte, int64) (int, error) {
	f.t.Errorf("FileRequired(%s) read the file", f.path)
	return 0, fs.ErrPermission
}

// TestFileRequiredDecidesFromPathAndModeAlone runs every plugin's FileRequired over
// paths each extractor wants and paths none does, through a FileAPI that fails on
// any access beyond path, mode and size, and checks that the decision is the same
// whatever the entry's size (up to a layer's cap): the walk may decide before it
// reads anything.
func TestFileRequiredDecidesFromPathAndModeAlone(t *testing.T) {
	ps, err := plugins()
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"var/lib/dpkg/status", "var/lib/dpkg/status.d/base", "lib/apk/db/installed",
		"var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db",
		"usr/local/bin/app", "usr/bin/app.so", "app/app.deps.json",
		"usr/local/bundle/specifications/rack-3.0.0.gemspec", "usr/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec",
		"app/vendor/composer/installed.json", "app/lib/spring-core-6.1.0.jar", "app/app.war",
		"app/node_modules/left-pad/package.json", "app/package-lock.json", "app/node_modules/x/package-lock.json",
		"usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", "usr/lib/python3.11/site-packages/six-1.16.0.egg-info/PKG-INFO",
		"etc/os-release", "usr/share/doc/README", "tmp/big.bin", "",
	}
	modes := []fs.FileMode{0o644, 0o755, fs.ModeSymlink | 0o777}
	// Sizes a layer within image.DefaultMaxBytes can hold.
	sizes := []int64{0, 1, 600 << 20}
	for _, p := range paths {
		for _, m := range modes {
			t.Run("the decision on "+p+" with mode "+m.String()+" reads nothing and ignores the size", func(t *testing.T) {
				var first []string
				for i, size := range sizes {
					api := noIOFileAPI{t: t, path: p, mode: m, size: size}
					var wanting []string
					for _, pl := range ps {
						if pl.extractor.FileRequired(api) {
							wanting = append(wanting, pl.extractor.Name())
						}
					}
					if i == 0 {
						first = wanting
						continue
					}
					if diff := cmp.Diff(first, wanting); diff != "" {
						t.Errorf("size %d changes who wants %s (-size %d +size %d):\n%s", size, p, sizes[0], size, diff)
					}
				}
			})
		}
	}
}

// TestFileRequiredWantsWhatEachExtractorReads guards the test above against
// passing vacuously: each kind of package file is wanted by the extractor that
// reads it, and a plain file by none.
func TestFileRequiredWantsWhatEachExtractorReads(t *testing.T) {
	ps, err := plugins()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		mode fs.FileMode
		want []string
	}{
		{"var/lib/dpkg/status", 0o644, []string{"os/dpkg"}},
		{"lib/apk/db/installed", 0o644, []string{"os/apk"}},
		{"var/lib/rpm/rpmdb.sqlite", 0o644, []string{"os/rpm"}},
		{"usr/local/bin/app", 0o755, []string{"go/binary", "rust/cargoauditable-bounded"}},
		{"usr/local/bin/app", 0o644, nil},
		{"app/app.deps.json", 0o644, []string{"dotnet/depsjson"}},
		{"usr/local/bundle/specifications/rack-3.0.0.gemspec", 0o644, []string{"ruby/gemspec"}},
		{"app/vendor/composer/installed.json", 0o644, []string{"php/composerinstalled"}},
		{"app/lib/spring-core-6.1.0.jar", 0o644, []string{"java/archive"}},
		{"app/node_modules/left-pad/package.json", 0o644, []string{"javascript/packagejson"}},
		{"app/package-lock.json", 0o644, []string{"javascript/packagelockjson"}},
		{"usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", 0o644, []string{"python/wheelegg"}},
		{"usr/share/doc/README", 0o644, nil},
	}
	for _, c := range cases {
		t.Run(c.path+" with mode "+c.mode.String()+" is wanted by "+joinOrNone(c.want), func(t *testing.T) {
			api := noIOFileAPI{t: t, path: c.path, mode: c.mode, size: 4096}
			var got []string
			for _, pl := range ps {
				if pl.extractor.FileRequired(api) {
					got = append(got, pl.extractor.Name())
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("plugins wanting %s (-want +got):\n%s", c.path, diff)
			}
		})
	}
}

func joinOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := names[0]
	for _, n := range names[1:] {
		out += " and " + n
	}
	return out
}
