package inventory

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
	scalibrplugin "github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/purl"
)

// cargoAuditableName is the name of Tidewatch's cargo-auditable extractor.
const cargoAuditableName = "rust/cargoauditable-bounded"

// maxAuditJSONBytes caps the decompressed dependency list of one binary. It is
// cargo-auditable's own reader default (auditable-info Limits: 8 MiB of JSON); a
// section that inflates to more is a zlib bomb or garbage, and is reported.
const maxAuditJSONBytes = 8 << 20

// cargoAuditSection names the section cargo-auditable writes: zlib-compressed JSON
// of the dependency tree ("{"packages":[{"name","version","source","kind",
// "dependencies","root"}]}"), https://github.com/rust-secure-code/cargo-auditable
// (auditable-serde). The pre-0.5 names are read too.
var cargoAuditSections = []string{".dep-v0", ".rust-deps-v0", "rdep-v0", "rust-deps-v0"}

// cargoAuditMarkers are byte strings one of which every binary readAuditSection
// reads a section from holds (the section's name, in the section header string
// table: "dep-v0" is in .dep-v0 and rdep-v0, "deps-v0" in the pre-0.5 .rust-deps-v0
// and rust-deps-v0), used to tell a Rust binary too big to buffer from any other
// big executable.
var cargoAuditMarkers = [][]byte{[]byte("dep-v0"), []byte("deps-v0")}

// errNotAuditable says a binary has no cargo-auditable section: not an error.
var errNotAuditable = errors.New("no cargo-auditable section")

// cargoAuditable reads the crates a Rust binary built with cargo-auditable records
// in its .dep-v0 section (ELF, PE, Mach-O). It does what osv-scalibr's
// rust/cargoauditable extractor does, through go-rustaudit's format, but inflates
// the section through maxAuditJSONBytes: go-rustaudit reads the whole inflated
// stream, so a small zlib bomb in a hostile image would take the worker's memory.
// Build dependencies are left out, as osv-scalibr leaves them out: they are not
// in the binary.
type cargoAuditable struct{}

var _ filesystem.Extractor = cargoAuditable{}

// Name of the extractor.
func (cargoAuditable) Name() string { return cargoAuditableName }

// Version of the extractor.
func (cargoAuditable) Version() int { return 0 }

// Requirements of the extractor.
func (cargoAuditable) Requirements() *scalibrplugin.Capabilities {
	return &scalibrplugin.Capabilities{}
}

// FileRequired wants executables, as osv-scalibr's extractor does.
func (cargoAuditable) FileRequired(api filesystem.FileAPI) bool {
	return filesystem.IsInterestingExecutable(api)
}

// auditedCrate is one package of cargo-auditable's JSON.
type auditedCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// Extract lists the runtime crates of the binary in input.Reader (an io.ReaderAt).
// A binary without the section yields nothing; a section that does not inflate or
// decode is an error naming what was wrong.
func (cargoAuditable) Extract(ctx context.Context, input *filesystem.ScanInput) (inventory.Inventory, error) {
	r, ok := input.Reader.(io.ReaderAt)
	if !ok {
		return inventory.Inventory{}, errors.New("cargo-auditable: the binary is not buffered")
	}
	section, err := readAuditSection(r)
	if errors.Is(err, errNotAuditable) {
		return inventory.Inventory{}, nil
	}
	if err != nil {
		return inventory.Inventory{}, err
	}
	crates, err := decodeAuditSection(section)
	if err != nil {
		return inventory.Inventory{}, err
	}
	var pkgs []*extractor.Package
	for _, c := range crates {
		if c.Kind == "build" {
			continue
		}
		pkgs = append(pkgs, &extractor.Package{
			Name: c.Name, Version: c.Version, PURLType: purl.TypeCargo,
			Location: extractor.LocationFromPath(input.Path),
		})
	}
	return inventory.Inventory{Packages: pkgs}, nil
}

// sectionReader is what debug/elf, debug/pe and debug/macho files have in common.
type sectionReader interface {
	data(name string) ([]byte, bool, error)
}

type elfSections struct{ f *elf.File }

func (s elfSections) data(name string) ([]byte, bool, error) {
	sec := s.f.Section(name)
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, false, nil
	}
	b, err := sec.Data()
	return b, true, err
}

type peSections struct{ f *pe.File }

func (s peSections) data(name string) ([]byte, bool, error) {
	sec := s.f.Section(name)
	if sec == nil {
		return nil, false, nil
	}
	b, err := sec.Data()
	return b, true, err
}

type machoSections struct{ f *macho.File }

func (s machoSections) data(name string) ([]byte, bool, error) {
	sec := s.f.Section(name)
	if sec == nil {
		return nil, false, nil
	}
	b, err := sec.Data()
	return b, true, err
}

// readAuditSection returns the raw (compressed) cargo-auditable section of the
// executable in r. An executable of another format, or one its package cannot
// parse, has none: debug/* errors on garbage are not worth a report, since
// IsInterestingExecutable wants every file with an executable bit.
func readAuditSection(r io.ReaderAt) ([]byte, error) {
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, errNotAuditable
	}
	var sections sectionReader
	switch {
	case bytes.Equal(head, []byte("\x7FELF")):
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, errNotAuditable
		}
		sections = elfSections{f}
	case bytes.HasPrefix(head, []byte("MZ")):
		f, err := pe.NewFile(r)
		if err != nil {
			return nil, errNotAuditable
		}
		sections = peSections{f}
	default:
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, errNotAuditable
		}
		sections = machoSections{f}
	}
	for _, name := range cargoAuditSections {
		b, ok, err := sections.data(name)
		if !ok {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading section %s: %w", name, err)
		}
		return b, nil
	}
	return nil, errNotAuditable
}

// decodeAuditSection inflates and decodes a cargo-auditable section, through
// maxAuditJSONBytes.
func decodeAuditSection(section []byte) ([]auditedCrate, error) {
	zr, err := zlib.NewReader(bytes.NewReader(section))
	if err != nil {
		return nil, fmt.Errorf("inflating the .dep-v0 section: %w", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, maxAuditJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("inflating the .dep-v0 section: %w", err)
	}
	if len(raw) > maxAuditJSONBytes {
		return nil, fmt.Errorf("the .dep-v0 section inflates to more than %d MiB", maxAuditJSONBytes>>20)
	}
	var doc struct {
		Packages []auditedCrate `json:"packages"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decoding the .dep-v0 JSON: %w", err)
	}
	return doc.Packages, nil
}
