package inventory

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
)

// extractRPMDatabase lists the packages of an rpm database held in memory (data)
// with osv-scalibr's rpm extractor. The storage format is read by rpmHeaders; each
// package header is then handed to the extractor on its own, as a one-package NDB
// database in an in-memory file it opens by path (rpmMemFile), so the extractor
// (go-rpmdb underneath) parses every header and nothing is written to disk. A
// database that cannot be read, or headers the extractor rejects, make the file a
// SkippedFile with the reason; the packages that were read stay listed.
func (a *layerAnalysis) extractRPMDatabase(pl plugin, location string, info fs.FileInfo, data []byte) error {
	name := pl.extractor.Name()
	headers, err := rpmHeaders(a.ctx, data)
	if err != nil {
		if a.ctx.Err() != nil {
			return a.ctx.Err()
		}
		a.skip(location, fmt.Sprintf("%s cannot read it: %v", name, err))
		return nil
	}
	mem, err := newRPMMemFile()
	if err != nil {
		a.skip(location, fmt.Sprintf("%s cannot read it: %v", name, err))
		return nil
	}
	defer mem.Close()
	view := entryView(location, info, nil)
	pkgs := a.result.PackageFiles[location]
	var buf []byte
	var bad int
	var firstErr error
	for _, header := range headers {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		buf = singlePackageNDB(buf, header)
		if err := mem.set(buf); err != nil {
			a.skip(location, fmt.Sprintf("%s cannot read it: %v", name, err))
			break
		}
		found, err := pl.extractor.Extract(a.ctx, &filesystem.ScanInput{FS: view, Path: mem.name, Root: mem.root, Info: info})
		if err != nil {
			bad++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, p := range found.Packages {
			if pkg, ok := pl.convert(p, location); ok {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	a.result.PackageFiles[location] = pkgs
	if bad > 0 {
		// The memory file's name (/proc/self/fd/N) differs from run to run; the
		// reason is cached with the layer, so it names the header instead.
		reason := strings.ReplaceAll(firstErr.Error(), path.Join(mem.root, mem.name), "header")
		a.skip(location, fmt.Sprintf("%s could not read %d of %d package headers: %s", name, bad, len(headers), reason))
	}
	return nil
}
