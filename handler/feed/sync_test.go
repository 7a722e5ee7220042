package feed_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func statuses(r *feed.Result) map[string]feed.Status {
	out := map[string]feed.Status{}
	for _, f := range r.Folders {
		out[f.Folder] = f.Status
	}
	return out
}

func TestAFirstSyncWritesEveryFolderWithTheExportsRecordCounts(t *testing.T) {
	b := sharedBucket(t, "Debian", "Go")
	dir := feed.Dir(t.TempDir())
	res, err := syncer(b, dir, testenv.NewClock(t0), &waits{}).Sync(context.Background(), []string{"Go", "Debian"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed {
		t.Error("a first sync did not report a changed generation")
	}
	p := current(t, dir)
	got := map[string]int{}
	for name, f := range p.Folders {
		got[name] = f.Records
	}
	want := map[string]int{
		"Debian": jsonMembers(t, sharedArchive(t, "Debian")),
		"Go":     jsonMembers(t, sharedArchive(t, "Go")),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records per folder (-export +pointer):\n%s", diff)
	}
	if diff := cmp.Diff(res.Pointer, &p); diff != "" {
		t.Errorf("returned pointer differs from the stored one (-returned +stored):\n%s", diff)
	}
	if !p.CheckedAt.Equal(t0) || !p.RetrievedAt.Equal(t0) {
		t.Errorf("checkedAt %s, retrievedAt %s; want both %s", p.CheckedAt, p.RetrievedAt, t0)
	}
}

func TestTheGenerationLoadsAsTheSameIndexAsTheExport(t *testing.T) {
	b := sharedBucket(t, "Debian", "Go")
	dir := feed.Dir(t.TempDir())
	ctx := context.Background()
	if _, err := syncer(b, dir, testenv.NewClock(t0), &waits{}).Sync(ctx, []string{"Debian", "Go"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range idxFiles(t, dir) {
		blob, err := os.ReadFile(filepath.Join(string(dir), filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !advisory.IsCompiled(blob) {
			t.Errorf("%s is not a compiled folder (starts %q)", name, blob[:min(len(blob), 8)])
		}
	}
	got, _, err := feed.Load(ctx, dir, []string{"Debian", "Go"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := advisory.Load(ctx, testenv.Advisories(t), []string{"Debian", "Go"})
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []struct{ ecosystem, name string }{
		{"Debian:12", "openssl"}, {"Debian:12", "glibc"}, {"Debian:12", "curl"}, {"Go", "golang.org/x/net"}, {"Go", "stdlib"},
	} {
		if len(want.Affected(pkg.ecosystem, pkg.name)) == 0 {
			t.Fatalf("the shared export has no %s %s; pick another package", pkg.ecosystem, pkg.name)
		}
		if diff := cmp.Diff(want.Affected(pkg.ecosystem, pkg.name), got.Affected(pkg.ecosystem, pkg.name)); diff != "" {
			t.Errorf("%s %s (-export +generation):\n%s", pkg.ecosystem, pkg.name, diff)
		}
	}
}

func TestAnUnchangedExportCostsOne304PerFolderAndNoRebuild(t *testing.T) {
	b := sharedBucket(t, "Debian", "Go")
	dir := feed.Dir(t.TempDir())
	clock := testenv.NewClock(t0)
	s := syncer(b, dir, clock, &waits{})
	ctx := context.Background()
	if _, err := s.Sync(ctx, []string{"Debian", "Go"}); err != nil {
		t.Fatal(err)
	}
	first, blobs := current(t, dir), idxFiles(t, dir)
	b.seen()

	clock.Set(t0.Add(time.Hour))
	res, err := s.Sync(ctx, []string{"Debian", "Go"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{304, 304}, b.seen()); diff != "" {
		t.Errorf("statuses of the second sync (-want +got):\n%s", diff)
	}
	if res.Changed {
		t.Error("an unchanged export reported a changed generation")
	}
	if diff := cmp.Diff(map[string]feed.Status{"Debian": feed.StatusUnchanged, "Go": feed.StatusUnchanged}, statuses(res)); diff != "" {
		t.Errorf("folder statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(blobs, idxFiles(t, dir)); diff != "" {
		t.Errorf("an unchanged export rebuilt blobs (-before +after):\n%s", diff)
	}
	second := current(t, dir)
	if second.Generation != first.Generation || !second.RetrievedAt.Equal(t0) {
		t.Errorf("generation %s retrieved %s; want %s retrieved %s", second.Generation, second.RetrievedAt, first.Generation, t0)
	}
	if !second.CheckedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("checkedAt %s; a 304 must refresh it to %s", second.CheckedAt, t0.Add(time.Hour))
	}
}

func TestTransientServerFailuresAreRetriedWithBackOff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     func(w http.ResponseWriter, r *http.Request, n int) bool
		statuses  []int
		wantWaits func(t *testing.T, w []time.Duration)
	}{
		{
			name: "500 twice then success waits a jittered back-off between attempts",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n < 2 {
					http.Error(w, "backend error", http.StatusInternalServerError)
					return true
				}
				return false
			},
			statuses: []int{500, 500, 200},
			wantWaits: func(t *testing.T, w []time.Duration) {
				if len(w) != 2 || w[0] <= 0 || w[0] > 500*time.Millisecond || w[1] <= 0 || w[1] > time.Second {
					t.Errorf("waits %v; want two in (0, 500ms] and (0, 1s]", w)
				}
			},
		},
		{
			name: "429 with Retry-After waits what the server asked",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n == 0 {
					w.Header().Set("Retry-After", "7")
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return true
				}
				return false
			},
			statuses: []int{429, 200},
			wantWaits: func(t *testing.T, w []time.Duration) {
				if diff := cmp.Diff([]time.Duration{7 * time.Second}, w); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sharedBucket(t, "Go")
			b.setFault(tc.fault)
			dir := feed.Dir(t.TempDir())
			w := &waits{}
			res, err := syncer(b, dir, testenv.NewClock(t0), w).Sync(context.Background(), []string{"Go"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.statuses, b.seen()); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			tc.wantWaits(t, w.all())
			if got, want := current(t, dir).Folders["Go"].Records, jsonMembers(t, sharedArchive(t, "Go")); got != want || !res.Changed {
				t.Errorf("Go holds %d records (changed %v); want %d", got, res.Changed, want)
			}
		})
	}
}

func TestARetryAfterPastTheBudgetFailsAtOnce(t *testing.T) {
	b := sharedBucket(t, "Go")
	b.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return true
	})
	w := &waits{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := syncer(b, feed.Dir(t.TempDir()), testenv.NewClock(t0), w).Sync(ctx, []string{"Go"})
	if err == nil || !strings.Contains(err.Error(), "past the budget") {
		t.Fatalf("err %v; want the wait past the budget reported", err)
	}
	if feed.IsPermanent(err) {
		t.Errorf("throttling past the budget is classified permanent: %v", err)
	}
	if len(w.all()) != 0 || len(b.seen()) != 1 {
		t.Errorf("waited %v after %d requests; want no wait after one", w.all(), len(b.seen()))
	}
}

func TestAServerSlowerThanTheBudgetFailsAndTheCurrentGenerationStays(t *testing.T) {
	b := sharedBucket(t, "Go")
	dir := feed.Dir(t.TempDir())
	s := syncer(b, dir, testenv.NewClock(t0), &waits{})
	if _, err := s.Sync(context.Background(), []string{"Go"}); err != nil {
		t.Fatal(err)
	}
	before, blobs := current(t, dir), idxFiles(t, dir)

	b.set("Go", sharedArchive(t, "Go")[1:]) // a changed export, never delivered
	b.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		<-r.Context().Done() // answers only once the client gave up
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Sync(ctx, []string{"Go"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want the budget's deadline", err)
	}
	if diff := cmp.Diff(before, current(t, dir)); diff != "" {
		t.Errorf("pointer changed by a failed sync (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(blobs, idxFiles(t, dir)); diff != "" {
		t.Errorf("blobs changed by a failed sync (-before +after):\n%s", diff)
	}
}

func TestTwoSyncsAtOnceLeaveOneConsistentGeneration(t *testing.T) {
	dir := feed.Dir(t.TempDir())
	raceSyncs(t, dir, func(t *testing.T) []string { return idxFiles(t, dir) })
}

// raceSyncs runs two syncs of different exports into blobs at once and checks the
// pointer is exactly the winner's; listIdx lists the .idx blobs present.
func raceSyncs(t *testing.T, blobs feed.Blobs, listIdx func(t *testing.T) []string) {
	full := map[string][]byte{"Debian": sharedArchive(t, "Debian"), "Go": sharedArchive(t, "Go")}
	other := map[string][]byte{}
	for f, data := range full {
		ms := members(t, data)
		other[f] = zipOf(t, ms[:len(ms)-10]) // a different export of each folder
	}
	a, b := newBucket(t, full), newBucket(t, other)
	// Each sync holds its first request until the other's first has arrived, so
	// both read the (absent) pointer before either writes one.
	arrivedA, arrivedB := make(chan struct{}), make(chan struct{})
	gate := func(mine, theirs chan struct{}) func(http.ResponseWriter, *http.Request, int) bool {
		return func(_ http.ResponseWriter, _ *http.Request, n int) bool {
			if n == 0 {
				close(mine)
				<-theirs
			}
			return false
		}
	}
	a.setFault(gate(arrivedA, arrivedB))
	b.setFault(gate(arrivedB, arrivedA))
	clock := testenv.NewClock(t0)
	var wg sync.WaitGroup
	results := make([]*feed.Result, 2)
	errs := make([]error, 2)
	for i, bk := range []*bucket{a, b} {
		wg.Go(func() {
			results[i], errs[i] = syncer(bk, blobs, clock, &waits{}).Sync(context.Background(), []string{"Debian", "Go"})
		})
	}
	wg.Wait()

	winner, exports := -1, []map[string][]byte{full, other}
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
		case !errors.Is(err, feed.ErrConflict):
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if winner < 0 || errs[1-winner] == nil {
		t.Fatalf("errors %v; want exactly one sync to win and the other to see ErrConflict", errs)
	}
	p := current(t, blobs)
	if diff := cmp.Diff(results[winner].Pointer, &p); diff != "" {
		t.Errorf("stored pointer is not the winner's (-winner +stored):\n%s", diff)
	}
	for folder, f := range p.Folders {
		if want := jsonMembers(t, exports[winner][folder]); f.Records != want {
			t.Errorf("%s: %d records; the winner's export holds %d", folder, f.Records, want)
		}
	}
	var want []string
	for _, f := range p.Folders {
		want = append(want, f.Blob)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, listIdx(t)); diff != "" {
		t.Errorf("blobs on disk are not exactly the winner's (-pointer +disk):\n%s", diff)
	}
	if _, _, err := feed.Load(context.Background(), blobs, []string{"Debian", "Go"}); err != nil {
		t.Errorf("loading the surviving generation: %v", err)
	}
}

func TestOnlyTheThreeNewestGenerationsAreKept(t *testing.T) {
	ms := members(t, sharedArchive(t, "Go"))
	b := newBucket(t, map[string][]byte{"Go": zipOf(t, ms)})
	dir := feed.Dir(t.TempDir())
	clock := testenv.NewClock(t0)
	s := syncer(b, dir, clock, &waits{})
	var blobs []string
	for i := range 5 {
		b.set("Go", zipOf(t, ms[i:]))
		clock.Set(t0.Add(time.Duration(i) * time.Hour))
		res, err := s.Sync(context.Background(), []string{"Go"})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, res.Pointer.Folders["Go"].Blob)
	}
	want := slices.Sorted(slices.Values(blobs[2:]))
	if diff := cmp.Diff(want, idxFiles(t, dir)); diff != "" {
		t.Errorf("kept blobs (-three newest +disk):\n%s", diff)
	}
	if n := len(current(t, dir).Previous); n != 2 {
		t.Errorf("pointer lists %d previous generations; want 2", n)
	}
}

func TestTheCLIDirectorySourceSkipsAnUnchangedArchive(t *testing.T) {
	dir := feed.Dir(t.TempDir())
	src, err := feed.OpenSource(testenv.Advisories(t))
	if err != nil {
		t.Fatal(err)
	}
	s := feed.NewSyncer(src, dir, feed.WithClock(testenv.NewClock(t0).Now))
	ctx := context.Background()
	for i, want := range []feed.Status{feed.StatusUpdated, feed.StatusUnchanged} {
		res, err := s.Sync(ctx, []string{"Go"})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res)["Go"]; got != want {
			t.Errorf("sync %d: Go %s; want %s", i+1, got, want)
		}
	}
}

func TestAFolderNoLongerSyncedLeavesTheNextGeneration(t *testing.T) {
	b := sharedBucket(t, "Go", "npm")
	dir := feed.Dir(t.TempDir())
	clock := testenv.NewClock(t0)
	s := syncer(b, dir, clock, &waits{})
	ctx := context.Background()
	if _, err := s.Sync(ctx, []string{"Go", "npm"}); err != nil {
		t.Fatal(err)
	}
	first := current(t, dir)
	clock.Set(t0.Add(time.Hour))
	res, err := s.Sync(ctx, []string{"npm"})
	if err != nil {
		t.Fatal(err)
	}
	p := current(t, dir)
	if !res.Changed || p.Generation == first.Generation {
		t.Errorf("changed %v, generation %s (was %s); dropping a folder must make a new generation", res.Changed, p.Generation, first.Generation)
	}
	if _, held := p.Folders["Go"]; held || len(p.Folders) != 1 {
		t.Errorf("folders %v; want npm only", slices.Collect(maps.Keys(p.Folders)))
	}
	if !p.CheckedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("checkedAt %s; the dropped folder's older check must not hold it back", p.CheckedAt)
	}
}
