package inventory

import (
	"bytes"
	"debug/plan9obj"
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/purl"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// maxBufferedFileBytes caps a file handed to an extractor that needs random access
// (a Go binary): it is held in memory, never written to disk, and a bigger
// candidate is reported as a SkippedFile.
const maxBufferedFileBytes = 64 << 20

// goDevel is the version Go records for a main module built from a work tree.
const goDevel = "(devel)"

// goPackage maps a module (or the toolchain) from osv-scalibr's Go binary extractor
// into the Go ecosystem as OSV's Go records name them: module paths with versions
// without the leading "v", and the toolchain as module "stdlib". A main module built
// from a work tree has no version ("(devel)") and nothing to match, so it is left out.
func goPackage(p *extractor.Package, location string) (Package, bool) {
	if p.PURLType != purl.TypeGolang || p.Version == goDevel || p.Version == "" {
		return Package{}, false
	}
	name := p.Name
	if name == "go" {
		name = "stdlib"
	}
	u := (&extractor.Package{Name: name, Version: p.Version, PURLType: purl.TypeGolang}).PURL()
	pkg := Package{
		Name: name, Version: p.Version, SourceName: name, SourceVersion: p.Version,
		Type: purl.TypeGolang, Ecosystem: string(osvconstants.EcosystemGo), Location: location,
	}
	if u != nil {
		pkg.PURL = u.String()
	}
	return pkg, true
}

// goBuildInfoMagic starts the build information section of every Go binary
// (debug/buildinfo).
var goBuildInfoMagic = []byte("\xff Go buildinf:")

// containsMarkers reads r to its end and reports which of markers occur in it.
func containsMarkers(r io.Reader, markers [][]byte) ([]bool, error) {
	longest := 0
	for _, m := range markers {
		longest = max(longest, len(m))
	}
	found := make([]bool, len(markers))
	buf := make([]byte, 1<<20)
	carry := 0
	for {
		n, err := r.Read(buf[carry:])
		window := buf[:carry+n]
		for i, m := range markers {
			found[i] = found[i] || (len(m) > 0 && bytes.Contains(window, m))
		}
		carry = min(len(window), longest-1)
		copy(buf, window[len(window)-carry:])
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return found, err
		}
	}
}

// sniffLen is how many leading bytes a plugin's sniff sees.
const sniffLen = 16

// isExecutableFormat reports whether head starts like one of the executable formats
// Go's debug/buildinfo reads (ELF, PE, Mach-O, XCOFF, Plan 9), so an executable
// script or data file is not buffered for nothing.
func isExecutableFormat(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte("\x7FELF")),
		bytes.HasPrefix(head, []byte("MZ")),
		bytes.HasPrefix(head, []byte("\xFE\xED\xFA")),
		len(head) > 1 && bytes.HasPrefix(head[1:], []byte("\xFA\xED\xFE")),
		bytes.HasPrefix(head, []byte("\xCA\xFE\xBA\xBE")), bytes.HasPrefix(head, []byte("\xCA\xFE\xBA\xBF")),
		bytes.HasPrefix(head, []byte{0x01, 0xDF}), bytes.HasPrefix(head, []byte{0x01, 0xF7}):
		return true
	}
	if len(head) >= 4 {
		switch binary.BigEndian.Uint32(head) {
		case plan9obj.Magic386, plan9obj.MagicAMD64, plan9obj.MagicARM:
			return true
		}
	}
	return false
}

// holdsAny reports whether data holds one of markers.
func holdsAny(data []byte, markers [][]byte) bool {
	return slices.ContainsFunc(markers, func(m []byte) bool { return len(m) > 0 && bytes.Contains(data, m) })
}
