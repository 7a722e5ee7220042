package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/store"
)

// This file holds in-memory stand-ins for storage and a registry, for unit tests of
// the pipeline's logic without Azurite. Their semantics follow the store's doc
// comments (merges, claims, upserts); the integration tests hold the real store to them.

// errInjected is an unclassified storage failure: the pipeline must treat it as transient.
var errInjected = errors.New("injected storage failure")

// failMode says what an injected failure does to the write it hits.
type failMode int

const (
	failBefore   failMode = iota // the write is not applied
	failAnswered                 // the write is applied, the answer is lost
)

// memStore is every storage concern of the pipeline in memory. Each write call is
// logged in order ("RecordActivity sha256:…"); the failAt-th write fails.
type memStore struct {
	mu          sync.Mutex
	tags        map[string]store.Tag      // repo|tag
	images      map[string]store.Image    // repo|digest
	activity    map[string]store.Activity // repo|digest
	repos       map[string]store.RepositoryActivity
	findings    map[string]store.Finding  // repo|digest|rowkey
	runs        map[string]store.RunDelta // date|run|invocation
	inventories map[string][]byte
	layers      map[string][]byte
	sent        map[string][]sentMessage // queue name → messages

	calls  []string
	writes int
	failAt int
	mode   failMode
	// tagConflicts is how many PutTags calls still lose a race with another lister.
	tagConflicts int
	// reads logs the partition reads (ListTags, ListImages, ListActivityRows with
	// the repository).
	reads []string
	// activityRaces are run one per PutActivities call, in order (a nil entry: no
	// race that call), before its versions are checked: racing writers.
	activityRaces []func()
}

type sentMessage struct {
	Text  string
	Delay time.Duration
}

func newMemStore() *memStore {
	return &memStore{
		tags: map[string]store.Tag{}, images: map[string]store.Image{}, activity: map[string]store.Activity{},
		repos:    map[string]store.RepositoryActivity{},
		findings: map[string]store.Finding{}, runs: map[string]store.RunDelta{}, inventories: map[string][]byte{},
		layers: map[string][]byte{}, sent: map[string][]sentMessage{},
	}
}

// write logs one write call and reports whether to apply it and what to return.
func (m *memStore) write(call string) (apply bool, err error) {
	m.writes++
	m.calls = append(m.calls, call)
	if m.writes != m.failAt {
		return true, nil
	}
	return m.mode == failAnswered, fmt.Errorf("%s: %w", call, errInjected)
}

// callsMatching returns the logged write calls that start with prefix.
func (m *memStore) callsMatching(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, c := range m.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func key(parts ...string) string { return strings.Join(parts, "|") }

func (m *memStore) stores() stores {
	return stores{
		tags: m, images: m, imageColumns: m, activity: m, repositories: m, runs: m, inventories: m, layers: m, findingStore: m,
		listTasks: memQueue{m, "list-tasks"}, scanTasks: memQueue{m, "scan-tasks"}, rematchTasks: memQueue{m, "rematch-tasks"},
	}
}

func (m *memStore) ListTags(_ context.Context, registry, repository string) ([]store.Tag, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = append(m.reads, "ListTags "+repository)
	var out []store.Tag
	for _, t := range m.tags {
		if t.Registry == registry && t.Repository == repository {
			t.ETag = tagVersion(t)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b store.Tag) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memStore) PutTags(_ context.Context, registry, repository string, tags []store.Tag) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	for _, t := range tags {
		// Like the store: an empty ETag inserts, any other replaces that version only.
		prev, ok := m.tags[key(registry, repository, t.Name)]
		if (t.ETag == "") == ok || (ok && t.ETag != tagVersion(prev)) {
			m.calls = append(m.calls, "PutTags (conflict)")
			return fmt.Errorf("writing tags: %w", store.ErrConflict)
		}
	}
	apply, err := m.write("PutTags")
	if apply && m.tagConflicts > 0 {
		m.tagConflicts--
		return fmt.Errorf("writing tags: %w", store.ErrConflict)
	}
	if apply {
		for _, t := range tags {
			t.Registry, t.Repository, t.ETag = registry, repository, ""
			m.tags[key(registry, repository, t.Name)] = t
		}
	}
	return err
}

// tagVersion is the fake's ETag of a stored tag row: its content.
func tagVersion(t store.Tag) string {
	t.ETag = ""
	return fmt.Sprintf("%#v", t)
}

func (m *memStore) ListImages(_ context.Context, registry, repository string) ([]store.Image, error) {
	m.mu.Lock()
	m.reads = append(m.reads, "ListImages "+repository)
	m.mu.Unlock()
	return m.imagesWhere(func(img store.Image) bool { return img.Registry == registry && img.Repository == repository }), nil
}

func (m *memStore) ImagesOf(_ context.Context, registry, repository, digest string) ([]store.Image, error) {
	return m.imagesWhere(func(img store.Image) bool {
		return img.Registry == registry && img.Repository == repository && (img.Digest == digest || img.IndexDigest == digest)
	}), nil
}

func (m *memStore) imagesWhere(keep func(store.Image) bool) []store.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Image
	for _, img := range m.images {
		if keep(img) {
			img.Tags = slices.Clone(img.Tags)
			out = append(out, img)
		}
	}
	slices.SortFunc(out, func(a, b store.Image) int { return strings.Compare(a.Digest, b.Digest) })
	return out
}

func (m *memStore) PutImage(_ context.Context, img store.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("PutImage " + img.Digest)
	if apply {
		m.images[key(img.Registry, img.Repository, img.Digest)] = img
	}
	return err
}

func (m *memStore) DeleteImage(_ context.Context, registry, repository, digest string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("DeleteImage " + digest)
	if apply {
		delete(m.images, key(registry, repository, digest))
	}
	return err
}

func (m *memStore) SetImageTags(_ context.Context, registry, repository string, tags map[string][]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	apply, err := m.write("SetImageTags")
	for digest, ts := range tags {
		if img, ok := m.images[key(registry, repository, digest)]; ok && apply {
			img.Tags = slices.Clone(ts)
			m.images[key(registry, repository, digest)] = img
		}
	}
	return err
}

func (m *memStore) SetImageError(_ context.Context, registry, repository string, digests []string, cause string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("SetImageError")
	for _, digest := range digests {
		if img, ok := m.images[key(registry, repository, digest)]; ok && apply {
			img.LastError, img.LastErrorAt = cause, at
			m.images[key(registry, repository, digest)] = img
		}
	}
	return err
}

func (m *memStore) SetImageCounts(_ context.Context, registry, repository, digest string, c store.Counts) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("SetImageCounts " + digest)
	if img, ok := m.images[key(registry, repository, digest)]; ok && apply {
		img.Counts = c
		m.images[key(registry, repository, digest)] = img
	}
	return err
}

func (m *memStore) GetActivity(_ context.Context, registry, repository, digest string) (store.Activity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.activity[key(registry, repository, digest)]
	if !ok {
		return store.Activity{}, fmt.Errorf("reading activity: %w", store.ErrNotFound)
	}
	return a, nil
}

// RecordActivity merges like the store: later times win, pulls add up, the claim stays.
func (m *memStore) RecordActivity(_ context.Context, obs store.Activity, pulls int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("RecordActivity " + obs.Digest)
	if !apply {
		return err
	}
	k := key(obs.Registry, obs.Repository, obs.Digest)
	next := obs
	next.PullCount = pulls
	if prev, ok := m.activity[k]; ok {
		if prev.LastPushedAt.After(next.LastPushedAt) {
			next.LastPushedAt = prev.LastPushedAt
		}
		if prev.LastPulledAt.After(next.LastPulledAt) {
			next.LastPulledAt = prev.LastPulledAt
		}
		next.PullCount += prev.PullCount
		next.ScanClaimedOn, next.ScanClaimedBy = prev.ScanClaimedOn, prev.ScanClaimedBy
		next.UntrackedAt = prev.UntrackedAt
		if next.Source == "" {
			next.Source = prev.Source
		}
	}
	m.activity[k] = next
	return err
}

// ListActivity returns the repository's digest rows.
func (m *memStore) ListActivity(_ context.Context, registry, repository string) ([]store.Activity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Activity
	for _, a := range m.activity {
		if a.Registry == registry && a.Repository == repository {
			out = append(out, a)
		}
	}
	return out, nil
}

// ListActivityRows returns the repository's digest rows with their versions (the
// fake's ETag is the row's content, so any change to a row changes it).
func (m *memStore) ListActivityRows(_ context.Context, registry, repository string) ([]store.ActivityRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = append(m.reads, "ListActivityRows "+repository)
	var out []store.ActivityRow
	for _, a := range m.activity {
		if a.Registry == registry && a.Repository == repository {
			out = append(out, store.ActivityRow{Activity: a, ETag: activityVersion(a)})
		}
	}
	return out, nil
}

func activityVersion(a store.Activity) string { return fmt.Sprintf("%#v", a) }

// PutActivities writes like the store: every row only if it is still at its ETag
// ("": only if absent), else nothing and ErrConflict. The call is logged with what
// each row changes: "PutActivities push:sha256:… claim:sha256:… untrack:sha256:…".
// Written rows' new versions are returned, as the service's answer gives them.
func (m *memStore) PutActivities(_ context.Context, registry, repository string, acts []store.ActivityRow) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.activityRaces) > 0 {
		race := m.activityRaces[0]
		m.activityRaces = m.activityRaces[1:]
		if race != nil {
			race()
		}
	}
	labels := []string{"PutActivities"}
	for _, a := range acts {
		prev, ok := m.activity[key(registry, repository, a.Digest)]
		if !prev.LastPushedAt.Equal(a.LastPushedAt) || !prev.LastPulledAt.Equal(a.LastPulledAt) || prev.Platforms != a.Platforms {
			labels = append(labels, "push:"+a.Digest)
		}
		if prev.ScanClaimedOn != a.ScanClaimedOn || prev.ScanClaimedBy != a.ScanClaimedBy {
			labels = append(labels, "claim:"+a.Digest)
		}
		if !prev.UntrackedAt.Equal(a.UntrackedAt) {
			labels = append(labels, "untrack:"+a.Digest)
		}
		if (a.ETag == "") == ok || (ok && a.ETag != activityVersion(prev)) {
			m.calls = append(m.calls, strings.Join(labels, " ")+" (conflict)")
			return nil, fmt.Errorf("writing activity: %w", store.ErrConflict)
		}
	}
	apply, err := m.write(strings.Join(labels, " "))
	var etags []string
	if apply {
		for _, a := range acts {
			a.Registry, a.Repository = registry, repository
			m.activity[key(registry, repository, a.Digest)] = a.Activity
			etags = append(etags, activityVersion(a.Activity))
		}
	}
	if err != nil {
		return nil, err
	}
	return etags, nil
}

// SetUntracked sets or clears UntrackedAt of an existing row.
func (m *memStore) SetUntracked(_ context.Context, registry, repository, digest string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("SetUntracked " + digest)
	if a, ok := m.activity[key(registry, repository, digest)]; ok && apply {
		a.UntrackedAt = at
		m.activity[key(registry, repository, digest)] = a
	}
	return err
}

func (m *memStore) ListRepositoryActivity(_ context.Context, registry string) ([]store.RepositoryActivity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.RepositoryActivity
	for _, a := range m.repos {
		if a.Registry == registry {
			out = append(out, a)
		}
	}
	return out, nil
}

// RepositoriesWithActivity returns the repositories of registry with activity rows.
func (m *memStore) RepositoriesWithActivity(_ context.Context, registry string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = append(m.reads, "RepositoriesWithActivity "+registry)
	out := map[string]bool{}
	for _, a := range m.activity {
		if a.Registry == registry {
			out[a.Repository] = true
		}
	}
	return out, nil
}

func (m *memStore) PutRepositoryActivity(_ context.Context, a store.RepositoryActivity) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("PutRepositoryActivity " + a.Repository)
	if apply {
		m.repos[key(a.Registry, a.Repository)] = a
	}
	return err
}

// ClaimScanAs claims like the store: one claim per digest per day; the claimant
// asking again for its own claim gets true again.
func (m *memStore) ClaimScanAs(_ context.Context, registry, repository, digest string, day time.Time, claimant string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("ClaimScanAs " + digest)
	if !apply {
		return false, err
	}
	k, date := key(registry, repository, digest), day.UTC().Format(time.DateOnly)
	a, ok := m.activity[k]
	if !ok {
		a = store.Activity{Registry: registry, Repository: repository, Digest: digest}
	}
	if a.ScanClaimedOn == date {
		return claimant != "" && a.ScanClaimedBy == claimant, err
	}
	a.ScanClaimedOn, a.ScanClaimedBy = date, claimant
	m.activity[k] = a
	return err == nil, err
}

func (m *memStore) RecordInvocation(_ context.Context, date, runID, invocation string, d store.RunDelta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("RecordInvocation " + invocation)
	if apply {
		m.runs[key(date, runID, invocation)] = d
	}
	return err
}

func (m *memStore) GetInvocation(_ context.Context, date, runID, invocation string) (store.RunDelta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.runs[key(date, runID, invocation)]
	if !ok {
		return store.RunDelta{}, fmt.Errorf("reading invocation %s: %w", invocation, store.ErrNotFound)
	}
	return d, nil
}

func (m *memStore) PutInventory(_ context.Context, platformDigest string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("PutInventory " + platformDigest)
	if apply {
		m.inventories[platformDigest] = data
	}
	return "inventories/" + platformDigest, err
}

func (m *memStore) GetInventory(_ context.Context, ref string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.inventories[strings.TrimPrefix(ref, "inventories/")]
	if !ok {
		return nil, store.ErrNotFound
	}
	return data, nil
}

func (m *memStore) GetLayer(_ context.Context, diffID, analyzer string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.layers[key(diffID, analyzer)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return data, nil
}

func (m *memStore) PutLayer(_ context.Context, diffID, analyzer string, data []byte, _ ...store.LayerOption) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply, err := m.write("PutLayer " + diffID)
	if apply {
		m.layers[key(diffID, analyzer)] = data
	}
	return err
}

func (m *memStore) FindingsOf(_ context.Context, registry, repository, digest string) ([]store.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Finding
	prefix := key(registry, repository, digest) + "|"
	for k, f := range m.findings {
		if strings.HasPrefix(k, prefix) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b store.Finding) int { return strings.Compare(a.RowKey(), b.RowKey()) })
	return out, nil
}

func (m *memStore) PutFindings(_ context.Context, registry, repository, digest string, fs []store.Finding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	apply, err := m.write("PutFindings " + digest)
	if apply {
		for _, f := range fs {
			f.Registry, f.Repository, f.Digest = registry, repository, digest
			m.findings[key(registry, repository, digest, f.RowKey())] = f
		}
	}
	return err
}

// memQueue is one queue of a memStore.
type memQueue struct {
	m    *memStore
	name string
}

func (q memQueue) Send(ctx context.Context, text []byte) error { return q.SendAfter(ctx, text, 0) }

func (q memQueue) SendAfter(_ context.Context, text []byte, delay time.Duration) error {
	q.m.mu.Lock()
	defer q.m.mu.Unlock()
	apply, err := q.m.write("Send " + q.name + " " + messageSubject(text))
	if apply {
		q.m.sent[q.name] = append(q.m.sent[q.name], sentMessage{Text: string(text), Delay: delay})
	}
	return err
}

// messageSubject names what a task message is about, for the call log: its digest,
// a batch's digests separated by spaces, else its repository.
func messageSubject(text []byte) string {
	var t struct {
		Repository, Digest string
		Digests            []struct{ Digest string }
	}
	if err := json.Unmarshal(text, &t); err != nil {
		return "?"
	}
	if t.Digest != "" {
		return t.Digest
	}
	if len(t.Digests) > 0 {
		ds := make([]string, 0, len(t.Digests))
		for _, d := range t.Digests {
			ds = append(ds, d.Digest)
		}
		return strings.Join(ds, " ")
	}
	return t.Repository
}

// sentScans returns the scan tasks sent, a batch task as its single-digest tasks
// (each encoded alone): what was asked, one per digest, in order.
func (m *memStore) sentScans(t *testing.T) []string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, msg := range m.sent["scan-tasks"] {
		var task store.ScanTask
		if err := json.Unmarshal([]byte(msg.Text), &task); err != nil {
			t.Fatalf("scan task %s: %v", msg.Text, err)
		}
		for _, one := range task.Each() {
			text, err := store.EncodeScanTask(one)
			if err != nil {
				t.Fatalf("scan task %s: %v", msg.Text, err)
			}
			out = append(out, string(text))
		}
	}
	return out
}
