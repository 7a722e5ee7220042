package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/feed"
)

// advisoryCacheFormat is part of every directory key, so a binary whose cache
// entries differ in layout builds its own instead of reading another's.
const advisoryCacheFormat = "tidewatch advisory cache 1"

// syncBudget bounds the sync of a URL source before a scan.
const syncBudget = 10 * time.Minute

// staleBuild is how old a leftover build or trash directory of a killed run must be
// before a later run deletes it (a live run finishes its build well within it).
const staleBuild = time.Hour

// errCorruptCache marks a cache entry that cannot be used: it is rebuilt.
var errCorruptCache = errors.New("unusable cache entry")

// errNoEntry reports that the cache holds no entry for an export yet.
var errNoEntry = errors.New("no cache entry")

// advisoryLoader loads the index a scan matches against through the advisory cache:
// compiled generations (package feed) under root, one per directory export's
// content and one per URL.
type advisoryLoader struct {
	source     string // a directory or an http(s) base
	ecosystems []string
	severity   string        // the severity folder; "" for none
	root       string        // "<cache>/advisories"
	maxAge     time.Duration // TIDEWATCH_MAX_DB_AGE, for URL sources
	stderr     io.Writer
	now        func() time.Time
	httpOpts   []feed.HTTPOption
}

// load returns the index of l.source, from the cache when it holds it.
func (l *advisoryLoader) load(ctx context.Context) (*advisory.Index, error) {
	if isURL(l.source) {
		return l.fromURL(ctx)
	}
	return l.fromDir(ctx)
}

func (l *advisoryLoader) loadOptions() []advisory.LoadOption {
	return []advisory.LoadOption{advisory.WithSeverityFolder(l.severity)}
}

// folders are the folders a sync fetches: the ecosystems and the severity folder.
func (l *advisoryLoader) folders() []string {
	out := slices.Clone(l.ecosystems)
	if l.severity != "" {
		out = append(out, l.severity)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (l *advisoryLoader) notef(format string, args ...any) {
	fmt.Fprintf(l.stderr, "tidewatch scan: "+format+"\n", args...)
}

func (l *advisoryLoader) warnf(format string, args ...any) {
	fmt.Fprintf(l.stderr, "tidewatch scan: warning: "+format+"\n", args...)
}

// ---- directory sources: one immutable entry per export content ----

// dirExport is what a directory export holds of the configured folders.
type dirExport struct {
	key     string            // sha256 over the cache format and each folder's name and digest
	folders []string          // the folders present, sorted
	etags   map[string]string // folder → the ETag feed.DirSource gives its archive
}

// digestExport hashes the configured folders' all.zip files. A missing ecosystem
// folder is an error naming it; a missing severity folder is left out (the index
// loads without it, as from the raw export).
func (l *advisoryLoader) digestExport(ctx context.Context) (*dirExport, error) {
	if info, err := os.Stat(l.source); err != nil {
		return nil, fmt.Errorf("opening advisory directory %s: %w: %w", l.source, advisory.ErrNoAdvisories, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("advisory source %s is not a directory: %w", l.source, advisory.ErrNoAdvisories)
	}
	key := sha256.New()
	fmt.Fprintln(key, advisoryCacheFormat)
	export := &dirExport{etags: map[string]string{}}
	for _, folder := range l.folders() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(l.source, folder, "all.zip")
		sum, err := fileSHA256(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !slices.Contains(l.ecosystems, folder):
			fmt.Fprintf(key, "%s\x00absent\n", folder)
			continue
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("opening %s/all.zip in %s: %w: %w", folder, l.source, advisory.ErrNoAdvisories, err)
		case err != nil:
			return nil, fmt.Errorf("hashing %s: %w", path, err)
		}
		fmt.Fprintf(key, "%s\x00%s\n", folder, sum)
		export.folders = append(export.folders, folder)
		export.etags[folder] = `"` + sum + `"`
	}
	export.key = hex.EncodeToString(key.Sum(nil))
	return export, nil
}

// matches checks that a generation was compiled from exactly this export.
func (e *dirExport) matches(p feed.Pointer) error {
	for _, folder := range e.folders {
		f, ok := p.Folders[folder]
		if !ok {
			return fmt.Errorf("generation %s has no %s folder: %w", p.Generation, folder, errCorruptCache)
		}
		if f.ETag != e.etags[folder] {
			return fmt.Errorf("generation %s was compiled from another %s archive: %w", p.Generation, folder, errCorruptCache)
		}
	}
	return nil
}

// fromDir loads the entry of the export's content, compiling it first when the
// cache lacks it or holds it broken.
func (l *advisoryLoader) fromDir(ctx context.Context) (*advisory.Index, error) {
	export, err := l.digestExport(ctx)
	if err != nil {
		return nil, err
	}
	entry := filepath.Join(l.root, export.key)
	idx, err := l.loadEntry(ctx, entry, export)
	if err == nil {
		l.notef("advisories loaded from cache %s", entry)
		return idx, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	broken := !errors.Is(err, errNoEntry)
	if broken {
		l.warnf("cached advisories in %s are unusable (%v): rebuilding them", entry, err)
	}
	idx, build, err := l.compile(ctx, export)
	if build != "" {
		defer os.RemoveAll(build)
	}
	if err != nil {
		return nil, err
	}
	l.install(ctx, build, entry, export, broken)
	l.notef("advisories compiled into cache %s", entry)
	return idx, nil
}

// loadEntry loads a cache entry; errNoEntry when there is none, errCorruptCache
// when it cannot be used.
func (l *advisoryLoader) loadEntry(ctx context.Context, entry string, export *dirExport) (*advisory.Index, error) {
	g, err := feed.OpenCurrent(ctx, feed.Dir(entry))
	if errors.Is(err, feed.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", errNoEntry, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptCache, err)
	}
	if err := export.matches(g.Pointer); err != nil {
		return nil, err
	}
	idx, err := g.Load(ctx, l.ecosystems, l.loadOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptCache, err)
	}
	return idx, nil
}

// compile syncs the export into a fresh build directory under root, verified as
// the advisories function verifies an export, and loads it. The caller removes the
// build directory.
func (l *advisoryLoader) compile(ctx context.Context, export *dirExport) (*advisory.Index, string, error) {
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return nil, "", fmt.Errorf("creating advisory cache %s: %w", l.root, err)
	}
	l.sweepLeftovers()
	build, err := os.MkdirTemp(l.root, ".build-*")
	if err != nil {
		return nil, "", fmt.Errorf("creating advisory cache entry in %s: %w", l.root, err)
	}
	if _, err := feed.NewSyncer(feed.DirSource(l.source), feed.Dir(build)).Sync(ctx, export.folders); err != nil {
		return nil, build, fmt.Errorf("compiling advisories from %s: %w", l.source, err)
	}
	g, err := feed.OpenCurrent(ctx, feed.Dir(build))
	if err != nil {
		return nil, build, fmt.Errorf("reading the advisories just compiled from %s: %w", l.source, err)
	}
	if err := export.matches(g.Pointer); err != nil {
		return nil, build, fmt.Errorf("the advisory directory %s changed while it was compiled; run again: %w", l.source, err)
	}
	idx, err := g.Load(ctx, l.ecosystems, l.loadOptions()...)
	if err != nil {
		return nil, build, fmt.Errorf("loading the advisories just compiled from %s: %w", l.source, err)
	}
	return idx, build, nil
}

// install renames a build into place. When another run installed the entry first,
// its entry (the same content) is kept; a broken entry is moved aside first. A
// failure only costs the next run a compile, so it is a warning.
func (l *advisoryLoader) install(ctx context.Context, build, entry string, export *dirExport, broken bool) {
	if os.Rename(build, entry) == nil {
		return
	}
	if !broken {
		if g, err := feed.OpenCurrent(ctx, feed.Dir(entry)); err == nil && export.matches(g.Pointer) == nil {
			return
		}
	}
	trash := filepath.Join(l.root, fmt.Sprintf(".trash-%s-%d", filepath.Base(entry), time.Now().UnixNano()))
	if err := os.Rename(entry, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.warnf("cannot replace cache entry %s: %v", entry, err)
		return
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(build, entry); err != nil {
		// Another run installed its build in between: that one is kept.
		if _, statErr := os.Stat(filepath.Join(entry, feed.PointerName)); statErr != nil {
			l.warnf("cannot install cache entry %s: %v", entry, err)
		}
	}
}

// sweepLeftovers deletes build and trash directories killed runs left behind.
func (l *advisoryLoader) sweepLeftovers() {
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !(strings.HasPrefix(e.Name(), ".build-") || strings.HasPrefix(e.Name(), ".trash-")) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleBuild {
			os.RemoveAll(filepath.Join(l.root, e.Name()))
		}
	}
}

// fileSHA256 is the hex sha256 of a file's content.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isURL reports whether an advisory source is an http(s) base rather than a directory.
func isURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}

// userCacheDir is os.UserCacheDir read from env's variables instead of the
// process's, so a command touches only what its Env gives it.
func userCacheDir(env Env) (string, error) {
	switch runtime.GOOS {
	case "windows":
		if dir := env.getenv("LocalAppData"); dir != "" {
			return dir, nil
		}
		return "", errors.New("%LocalAppData% is not set")
	case "darwin", "ios":
		if home := env.getenv("HOME"); home != "" {
			return filepath.Join(home, "Library", "Caches"), nil
		}
		return "", errors.New("$HOME is not set")
	}
	if dir := env.getenv("XDG_CACHE_HOME"); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", errors.New("$XDG_CACHE_HOME is a relative path")
		}
		return dir, nil
	}
	if home := env.getenv("HOME"); home != "" {
		return filepath.Join(home, ".cache"), nil
	}
	return "", errors.New("neither $XDG_CACHE_HOME nor $HOME is set")
}

// loadAdvisories returns the index a scan matches against: through the advisory
// cache, or with --no-cache (or without a cache directory) from the raw export.
func loadAdvisories(ctx context.Context, env Env, o scanOptions) (*advisory.Index, error) {
	l := &advisoryLoader{
		source:     o.advisories,
		ecosystems: o.ecosystems,
		severity:   o.severityDir,
		maxAge:     o.maxDBAge,
		stderr:     env.Stderr,
		now:        time.Now,
		httpOpts:   []feed.HTTPOption{feed.WithAttempts(3)},
	}
	cache := o.cacheDir
	if cache == "" && !o.noCache {
		dir, err := userCacheDir(env)
		if err != nil {
			l.warnf("no user cache directory (%v): reading advisories without the cache; pass --cache-dir to keep one", err)
			o.noCache = true
		}
		cache = filepath.Join(dir, "tidewatch")
	}
	if !o.noCache {
		l.root = filepath.Join(cache, "advisories")
		return l.load(ctx)
	}
	if !isURL(o.advisories) {
		return advisory.Load(ctx, o.advisories, o.ecosystems, l.loadOptions()...)
	}
	tmp, err := os.MkdirTemp("", "tidewatch-advisories-*")
	if err != nil {
		return nil, fmt.Errorf("creating a directory to sync advisories into: %w", err)
	}
	defer os.RemoveAll(tmp)
	l.root = tmp
	return l.fromURL(ctx)
}
