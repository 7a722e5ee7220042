package feed

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Syncer syncs an advisory source into generations in a Blobs.
type Syncer struct {
	source Fetcher
	blobs  Blobs
	now    func() time.Time
	limits Limits
	log    *slog.Logger
}

// Option configures a Syncer.
type Option func(*Syncer)

// WithClock sets the clock stamped on generations (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Syncer) { s.now = now } }

// WithLimits overrides the bounds on an export (default the Max* constants).
func WithLimits(l Limits) Option { return func(s *Syncer) { s.limits = l } }

// WithLogger sets the logger (default discards).
func WithLogger(l *slog.Logger) Option { return func(s *Syncer) { s.log = l } }

// NewSyncer returns a Syncer reading source and writing to blobs.
func NewSyncer(source Fetcher, blobs Blobs, opts ...Option) *Syncer {
	s := &Syncer{source: source, blobs: blobs, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.limits = s.limits.withDefaults()
	return s
}

// Status is what a sync did with one folder.
type Status string

// The folder statuses.
const (
	StatusUpdated   Status = "updated"   // a new verified archive was written
	StatusUnchanged Status = "unchanged" // the source confirmed the current archive
	StatusRejected  Status = "rejected"  // the export failed verification; the current blob stays
)

// FolderResult is what happened to one folder.
type FolderResult struct {
	Folder string
	Status Status
	// Records and Rejected count the folder's records now serving (for a rejected
	// folder: those of the export that was refused).
	Records  int
	Rejected int
	// RejectedIDs lists rejected records with the reason, at most MaxRejectedIDs.
	RejectedIDs []string
	// Reason says why a folder was rejected.
	Reason string
}

// Result is the outcome of one sync.
type Result struct {
	// Changed reports that the pointer moved to a new generation: the hook for
	// enqueueing a rematch.
	Changed bool
	// Pointer is the pointer as written (nil when nothing could be written).
	Pointer *Pointer
	Folders []FolderResult
}

// Sync fetches, verifies and writes the given folders ("Debian", "GIT") and
// switches the pointer. A rejected folder keeps its current blob and makes the
// error wrap ErrRejected, but the other folders still advance; any other failure
// (source unreachable, budget spent, ErrConflict) leaves the pointer as it was.
func (s *Syncer) Sync(ctx context.Context, folders []string) (*Result, error) {
	folders, err := checkFolders(folders)
	if err != nil {
		return nil, err
	}
	current, etag, err := s.readPointer(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	generation := newGeneration(now)
	next := &Pointer{Folders: map[string]Folder{}}
	res := &Result{}
	if current != nil {
		next.Generation, next.RetrievedAt, next.Previous = current.Generation, current.RetrievedAt, current.Previous
		for name, f := range current.Folders {
			if slices.Contains(folders, name) {
				next.Folders[name] = f
			} else {
				res.Changed = true // a folder no longer configured leaves the generation
			}
		}
	}
	var written []string
	var rejections []error
	checked := false
	for _, folder := range folders {
		prev, hasPrev := next.Folders[folder]
		fr, entry, err := s.syncFolder(ctx, folder, generation, prev, hasPrev, now)
		if err != nil {
			s.discard(ctx, written)
			return nil, fmt.Errorf("syncing %s: %w", folder, err)
		}
		res.Folders = append(res.Folders, fr)
		switch fr.Status {
		case StatusRejected:
			rejections = append(rejections, fmt.Errorf("%s: %s: %w", folder, fr.Reason, ErrRejected))
			continue
		case StatusUpdated:
			written = append(written, entry.Blob)
			res.Changed = true
		}
		checked = true
		next.Folders[folder] = entry
	}
	if !checked {
		return res, errors.Join(rejections...)
	}
	var prune []string
	if res.Changed {
		prune = s.advance(current, next, generation, now)
	}
	next.CheckedAt = oldestCheck(next)
	if err := s.writePointer(ctx, next, etag); err != nil {
		s.discard(ctx, written)
		return nil, err
	}
	res.Pointer = next
	s.discard(ctx, prune)
	return res, errors.Join(rejections...)
}

// syncFolder fetches and verifies one folder; a rejection is a result, not an error.
func (s *Syncer) syncFolder(ctx context.Context, folder, generation string, prev Folder, hasPrev bool, now time.Time) (FolderResult, Folder, error) {
	fr := FolderResult{Folder: folder}
	archive, err := s.source.Fetch(ctx, folder, prev.Validators, s.limits.ArchiveBytes)
	if IsPermanent(err) { // e.g. a folder the source does not have
		fr.Status, fr.Reason = StatusRejected, err.Error()
		return fr, prev, nil
	}
	if err != nil {
		return fr, prev, err
	}
	if archive.NotModified {
		if !hasPrev {
			return fr, prev, fmt.Errorf("source answered not-modified without a previous archive")
		}
		prev.CheckedAt = now
		fr.Status, fr.Records, fr.Rejected = StatusUnchanged, prev.Records, prev.Rejected
		return fr, prev, nil
	}
	v, err := verifyArchive(ctx, archive.Data, s.limits)
	if errors.Is(err, ErrRejected) {
		fr.Status, fr.Reason = StatusRejected, err.Error()
		return fr, prev, nil
	}
	if err != nil {
		return fr, prev, err
	}
	fr.Records, fr.Rejected, fr.RejectedIDs = len(v.records), v.rejected, v.rejectedIDs
	if reason := collapsed(len(v.records), prev, hasPrev); reason != "" {
		fr.Status, fr.Reason = StatusRejected, reason
		return fr, prev, nil
	}
	data, err := encodeIndex(v, s.limits.RecordBytes)
	if err != nil {
		return fr, prev, err
	}
	entry := Folder{
		Blob:        blobName(folder, generation),
		Records:     len(v.records),
		Rejected:    v.rejected,
		Validators:  archive.Validators,
		RetrievedAt: now,
		CheckedAt:   now,
	}
	if err := s.blobs.Put(ctx, entry.Blob, data); err != nil {
		return fr, prev, fmt.Errorf("writing index: %w", err)
	}
	fr.Status = StatusUpdated
	return fr, entry, nil
}

// collapsed says why a folder of n records must not replace the current one: an
// empty export, or one with fewer than half the current generation's records
// (a truncated or tampered export, not OSV withdrawing half an ecosystem).
func collapsed(n int, prev Folder, hasPrev bool) string {
	if n == 0 {
		return "the export holds no usable record"
	}
	if hasPrev && 2*n < prev.Records {
		return fmt.Sprintf("the export holds %d records, fewer than half of the current generation's %d", n, prev.Records)
	}
	return ""
}

// advance makes next a new generation, keeping the newest ones, and returns the
// blobs no kept generation uses any more.
func (s *Syncer) advance(current, next *Pointer, generation string, now time.Time) []string {
	next.Generation, next.RetrievedAt = generation, now
	if current == nil {
		return nil
	}
	kept := append([]Kept{{Generation: current.Generation, Blobs: sorted(current.blobs())}}, current.Previous...)
	var dropped []Kept
	if len(kept) > keptGenerations-1 {
		kept, dropped = kept[:keptGenerations-1], kept[keptGenerations-1:]
	}
	next.Previous = kept
	inUse := map[string]bool{}
	for _, b := range next.blobs() {
		inUse[b] = true
	}
	for _, k := range kept {
		for _, b := range k.Blobs {
			inUse[b] = true
		}
	}
	var prune []string
	for _, k := range dropped {
		for _, b := range k.Blobs {
			if !inUse[b] {
				prune = append(prune, b)
			}
		}
	}
	return prune
}

// readPointer returns the current pointer and its ETag, or nil and "" when none.
func (s *Syncer) readPointer(ctx context.Context) (*Pointer, string, error) {
	data, etag, err := s.blobs.Get(ctx, PointerName)
	if errors.Is(err, ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading advisory pointer: %w", err)
	}
	p, err := decodePointer(data)
	if err != nil {
		return nil, "", err
	}
	return p, etag, nil
}

// writePointer switches the pointer if nobody else has since it was read.
func (s *Syncer) writePointer(ctx context.Context, p *Pointer, etag string) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding advisory pointer: %w", err)
	}
	if err := s.blobs.PutIf(ctx, PointerName, data, etag); err != nil {
		return fmt.Errorf("switching advisory pointer to %s: %w", p.Generation, err)
	}
	return nil
}

// discard deletes blobs nobody points at; a failure only leaves garbage behind.
func (s *Syncer) discard(ctx context.Context, names []string) {
	ctx = context.WithoutCancel(ctx)
	for _, name := range names {
		if err := s.blobs.Delete(ctx, name); err != nil {
			s.log.Warn("deleting unused advisory blob", "blob", name, "err", err)
		}
	}
}

// checkFolders validates and deduplicates folder names.
func checkFolders(folders []string) ([]string, error) {
	if len(folders) == 0 {
		return nil, errors.New("no advisory folder to sync")
	}
	out := slices.Clone(folders)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, f := range out {
		if !plainFolder(f) {
			return nil, fmt.Errorf("advisory folder %q is not a plain name", f)
		}
	}
	return out, nil
}

// plainFolder reports whether f names one folder of an export: OSV's own folder
// names have spaces ("Rocky Linux", "Red Hat"), but no separators, no control
// characters and no surrounding space.
func plainFolder(f string) bool {
	if f == "" || f == "." || f == ".." || len(f) > 128 || strings.ContainsAny(f, `/\`) || strings.TrimSpace(f) != f {
		return false
	}
	for _, c := range f {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// newGeneration returns a generation id that sorts by creation time.
func newGeneration(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// oldestCheck is the oldest folder check of a pointer.
func oldestCheck(p *Pointer) time.Time {
	var oldest time.Time
	for _, f := range p.Folders {
		if oldest.IsZero() || f.CheckedAt.Before(oldest) {
			oldest = f.CheckedAt
		}
	}
	return oldest
}

func sorted(s []string) []string {
	slices.SortFunc(s, cmp.Compare)
	return s
}
