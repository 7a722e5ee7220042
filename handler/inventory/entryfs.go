package inventory

import (
	"io/fs"
	"testing/fstest"

	scalibrfs "github.com/google/osv-scalibr/fs"
)

// virtualRoot is the ScanInput.Root every extractor gets. Extractors never see the
// worker's filesystem: what they read comes from ScanInput.Reader or ScanInput.FS,
// a view of the one layer entry being extracted. An extractor that insists on a
// host path (filepath.Join(Root, Path), as osv-scalibr's podman extractor does) gets
// one under /dev/null, a character device, so opening it fails with ENOTDIR on any
// host instead of reading the worker's own files; the error makes the file a
// SkippedFile. The rpm extractor, which opens its database by path too, is given
// an in-memory file instead (plugin.openByPath, extractRPMDatabase). An empty Root
// would not do: osv-scalibr reads it as "virtual" in some extractors, copying the
// file to a temporary directory on disk, and others join it with the path, which
// then resolves against the worker's working directory.
const virtualRoot = "/dev/null/tidewatch-layer-entry"

// entryView is the filesystem an extractor sees for one layer entry: the entry
// itself when it was buffered (files opened from it implement io.ReaderAt, as
// scalibrfs.FS requires), and an empty etc/os-release. The distribution is decided
// by Merge from the whole image, not per layer, so extractors that annotate packages
// with os-release find an empty one rather than a missing one (which they log) or the
// host's.
func entryView(path string, info fs.FileInfo, contents []byte) scalibrfs.FS {
	view := fstest.MapFS{"etc/os-release": &fstest.MapFile{Mode: 0o644}}
	if contents != nil {
		view[path] = &fstest.MapFile{Data: contents, Mode: info.Mode(), ModTime: info.ModTime()}
	}
	return view
}
