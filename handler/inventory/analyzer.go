package inventory

import (
	"fmt"
	"io"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"

	"github.com/ossf/osv-schema/bindings/go/osvconstants"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"

	"github.com/tidewatch/tidewatch/handler/image"
)

// Analyzer names the version of the per-layer analysis: Tidewatch's own layer
// analysis version followed by each extractor's Name@Version. A LayerResult is valid
// only for the Analyzer that made it, so changing an extractor (or bumping
// osv-scalibr to a release that changes one) must change this string; a test checks
// it against the extractors actually in use.
const Analyzer = "tidewatch-layer/6 os/dpkg@0 go/binary@0 os/apk@0 os/rpm@0 rust/cargoauditable-bounded@0 dotnet/depsjson@0 ruby/gemspec@0 php/composerinstalled@0 java/archive@0 javascript/packagejson@0 javascript/packagelockjson@0 python/wheelegg@0"

// analyzerBase is the part of Analyzer that Tidewatch's own code owns; bump it when
// the walk, whiteout handling, link following, caps or package mapping change.
const analyzerBase = "tidewatch-layer/6"

// plugin is one extractor and how Tidewatch feeds it and maps its packages.
type plugin struct {
	extractor filesystem.Extractor
	// convert maps one extracted package read from location; false drops it.
	convert func(p *extractor.Package, location string) (Package, bool)
	// randomAccess extractors need an io.ReaderAt: their file is buffered in memory,
	// up to maxBufferedFileBytes. The others read the entry as a stream.
	randomAccess bool
	// sniff, when set, is asked about a file's first sniffLen bytes before the file
	// is read: false means the file is not this extractor's after all.
	sniff func(head []byte) bool
	// guard, when set, wraps the stream the extractor reads, bounding what a
	// hostile file can make it hold in memory.
	guard func(r io.Reader) guardedReader
	// openByPath extractors open their file by host path (osv-scalibr's rpm
	// extractor): the buffered database is handed over one package header at a
	// time as an in-memory file with a path (extractRPMDatabase), never written
	// to disk.
	openByPath bool
	// followLinks says a symlink or hard link at a path this extractor wants is a
	// package database to follow (not, say, one more link to an executable).
	followLinks bool
	// maxBytes, when set, caps the file the extractor reads whole: a bigger one is
	// reported as a SkippedFile without being read.
	maxBytes int64
	// nothingFound, when set, is the reason a wanted file from which the extractor
	// lists no package (and reports no error) is a SkippedFile: the extractor
	// declines garbage silently, but at its paths garbage is a damaged database.
	nothingFound string
	// markers, for a random-access extractor, are byte strings one of which every
	// file it reads anything from holds: a file too big to buffer is reported
	// skipped only if it holds one.
	markers [][]byte
	// kind names what such a file is in that report ("a Go binary").
	kind string
	// markedButUnread, when set, is the reason a buffered file that holds a marker
	// and from which the extractor lists no package (and reports no error) is a
	// SkippedFile: osv-scalibr's Go extractor declines a binary whose build
	// information debug/buildinfo cannot read without saying so.
	markedButUnread string
}

// plugins returns a fresh set of the extractors Tidewatch runs over every layer.
func plugins() ([]plugin, error) {
	// The dpkg extractor streams, so its own 100 MiB size cap (which makes it
	// silently decline a bigger status file) is raised to the layer cap; stanzaGuard
	// bounds its memory instead.
	dpkgExtractor, err := dpkg.New(&cpb.PluginConfig{MaxFileSizeBytes: image.DefaultMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("creating dpkg extractor: %w", err)
	}
	// No size cap in the Go binary extractor: Tidewatch buffers candidates itself
	// and reports a bigger one as skipped instead of declining it silently.
	goExtractor, err := gobinary.New(&cpb.PluginConfig{})
	if err != nil {
		return nil, fmt.Errorf("creating Go binary extractor: %w", err)
	}
	// The apk extractor streams without a size cap of its own; apkGuard bounds it.
	apkExtractor, err := apk.New(&cpb.PluginConfig{})
	if err != nil {
		return nil, fmt.Errorf("creating apk extractor: %w", err)
	}
	// No size cap in the deps.json and gemspec extractors either: maxBytes reports
	// a bigger file instead (gemspecs stream line by line and need none).
	depsJSONExtractor, err := depsjson.New(&cpb.PluginConfig{MaxFileSizeBytes: image.DefaultMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("creating deps.json extractor: %w", err)
	}
	gemspecExtractor, err := gemspec.New(&cpb.PluginConfig{})
	if err != nil {
		return nil, fmt.Errorf("creating gemspec extractor: %w", err)
	}
	// The rpm extractor's timeout is for a looping BerkeleyDB chain; it only ever
	// sees one-package NDB files (extractRPMDatabase), so it is a backstop. Its
	// size cap is Tidewatch's buffer cap, reported as a skip instead of declined
	// silently.
	rpmExtractor, err := rpm.New(&cpb.PluginConfig{PluginSpecific: []*cpb.PluginSpecificConfig{
		{Config: &cpb.PluginSpecificConfig_Rpm{Rpm: &cpb.RpmConfig{TimeoutSeconds: rpmTimeoutSeconds}}},
	}})
	if err != nil {
		return nil, fmt.Errorf("creating rpm extractor: %w", err)
	}
	javaArchive, err := newJavaArchivePlugin()
	if err != nil {
		return nil, err
	}
	application, err := applicationPlugins()
	if err != nil {
		return nil, err
	}
	return append([]plugin{
		{extractor: dpkgExtractor, convert: debPackage, guard: newStanzaGuard, followLinks: true},
		{extractor: goExtractor, convert: goPackage, randomAccess: true, sniff: isExecutableFormat,
			markers: [][]byte{goBuildInfoMagic}, kind: "a Go binary",
			markedButUnread: "it holds Go build information that debug/buildinfo cannot read"},
		{extractor: apkExtractor, convert: apkPackage, guard: newApkGuard, followLinks: true},
		{extractor: rpmExtractor, convert: rpmPackage, randomAccess: true, openByPath: true, followLinks: true},
		{extractor: cargoAuditable{}, convert: applicationPackage(osvconstants.EcosystemCratesIO), randomAccess: true,
			sniff: isExecutableFormat, markers: cargoAuditMarkers, kind: "a Rust binary with cargo-auditable data"},
		{extractor: depsJSONExtractor, convert: nugetPackage, maxBytes: maxManifestBytes,
			nothingFound: "not a deps.json document: no libraries read"},
		{extractor: installedGemspec{gemspecExtractor}, convert: applicationPackage(osvconstants.EcosystemRubyGems),
			nothingFound: "no Gem::Specification.new with a literal name and version"},
		{extractor: composerInstalled{}, convert: applicationPackage(osvconstants.EcosystemPackagist), maxBytes: maxManifestBytes},
		javaArchive,
	}, application...), nil
}

// applicationPlugins are the extractors of npm and PyPI packages. Each streams its
// file (none needs random access) through a sizeGuard; their own size caps, which
// would make them decline a bigger file silently, are lifted to the layer cap so the
// guard reports such a file as skipped instead. A link at a metadata path is followed
// like a package database's: pnpm hard-links every installed package.json to its
// content store.
func applicationPlugins() ([]plugin, error) {
	uncapped := &cpb.PluginConfig{MaxFileSizeBytes: image.DefaultMaxBytes}
	packageJSON, err := packagejson.New(uncapped)
	if err != nil {
		return nil, fmt.Errorf("creating package.json extractor: %w", err)
	}
	lockfile, err := packagelockjson.New(uncapped)
	if err != nil {
		return nil, fmt.Errorf("creating package-lock.json extractor: %w", err)
	}
	wheelEgg, err := wheelegg.New(uncapped)
	if err != nil {
		return nil, fmt.Errorf("creating Python wheel/egg extractor: %w", err)
	}
	return []plugin{
		{extractor: narrowed{packageJSON, isInstalledPackageJSON}, convert: npmPackage, guard: newSizeGuard(maxPackageJSONBytes), followLinks: true},
		{extractor: objectBounded{narrowed{lockfile, isLockfile}, maxLockfileObjects}, convert: npmPackage, guard: newSizeGuard(maxLockfileBytes), followLinks: true},
		{extractor: narrowed{wheelEgg, isInstalledPythonMetadata}, convert: pypiPackage, guard: newSizeGuard(maxPythonMetadataBytes), followLinks: true},
	}, nil
}

// rpmTimeoutSeconds bounds one rpm database read by osv-scalibr's rpm extractor.
const rpmTimeoutSeconds = 60

// guardedReader is a stream that may stop a read when its contents exceed a bound;
// Err says whether it did, whatever the extractor made of the error.
type guardedReader interface {
	io.Reader
	Err() error
}

// analyzerVersion computes the analyzer string for a set of plugins.
func analyzerVersion(ps []plugin) string {
	parts := []string{analyzerBase}
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s@%d", p.extractor.Name(), p.extractor.Version()))
	}
	return strings.Join(parts, " ")
}
