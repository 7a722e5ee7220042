package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/store"
)

const testRegistry = "r.example"

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func finding(id, severity string) store.Finding {
	return store.Finding{VulnerabilityID: id, Ecosystem: "Debian:12", Package: "pkg-" + id,
		Location: "var/lib/dpkg/status", Severity: severity, FixStatus: "fixed"}
}

func key(id string) string { return finding(id, "").RowKey() }

func TestRecord(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	l := New(m)
	record := func(t *testing.T, at time.Time, reason string, fs ...store.Finding) store.Counts {
		t.Helper()
		c, err := l.Record(ctx, testRegistry, "app", "sha256:a", fs, reason, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("a first result makes every finding active and counts them", func(t *testing.T) {
		c := record(t, t0, ReasonRescan, finding("CVE-1", "HIGH"), finding("CVE-2", "LOW"), finding("CVE-2", "LOW"))
		if diff := cmp.Diff(store.Counts{High: 1, Low: 1, FixableCount: 2}, c); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		want := map[string]string{key("CVE-1"): "active", key("CVE-2"): "active"}
		if diff := cmp.Diff(want, m.states("app", "sha256:a")); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
	})
	t.Run("a rescan without a finding resolves it rescan", func(t *testing.T) {
		c := record(t, t0.Add(time.Hour), ReasonRescan, finding("CVE-1", "HIGH"))
		if diff := cmp.Diff(store.Counts{High: 1, FixableCount: 1}, c); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		want := map[string]string{key("CVE-1"): "active", key("CVE-2"): "resolved/rescan"}
		if diff := cmp.Diff(want, m.states("app", "sha256:a")); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
	})
	t.Run("a rematch without a finding resolves it advisory", func(t *testing.T) {
		record(t, t0.Add(2*time.Hour), ReasonAdvisory)
		if got := m.states("app", "sha256:a")[key("CVE-1")]; got != "resolved/advisory" {
			t.Errorf("CVE-1 is %s, want resolved/advisory", got)
		}
	})
	t.Run("a resolved finding seen again is reactivated with its first sighting kept", func(t *testing.T) {
		record(t, t0.Add(3*time.Hour), ReasonRescan, finding("CVE-2", "LOW"))
		f := m.rows[partition(testRegistry, "app", "sha256:a")][key("CVE-2")]
		want := finding("CVE-2", "LOW")
		want.Registry, want.Repository, want.Digest = testRegistry, "app", "sha256:a"
		want.State, want.FirstSeenAt, want.LastSeenAt = StateActive, t0, t0.Add(3*time.Hour)
		if diff := cmp.Diff(want, f); diff != "" {
			t.Errorf("reactivated row (-want +got):\n%s", diff)
		}
	})
	t.Run("a resolved finding keeps its first resolution on later rescans", func(t *testing.T) {
		record(t, t0.Add(4*time.Hour), ReasonRescan, finding("CVE-2", "LOW"))
		f := m.rows[partition(testRegistry, "app", "sha256:a")][key("CVE-1")]
		if f.ResolvedReason != ReasonAdvisory || !f.ResolvedAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("CVE-1 resolved %s at %v, want advisory at %v", f.ResolvedReason, f.ResolvedAt, t0.Add(2*time.Hour))
		}
	})
	t.Run("another repository's rows of the same digest are untouched", func(t *testing.T) {
		if got := m.states("other", "sha256:a"); len(got) != 0 {
			t.Errorf("other repository has rows %v", got)
		}
	})
}

// image is an images row of repository app.
func image(digest, index, platform, status string, active int) store.Image {
	return store.Image{Registry: testRegistry, Repository: "app", Digest: digest, IndexDigest: index,
		Platform: platform, Status: status, Counts: store.Counts{High: active}}
}

func tag(name, digest string, history ...string) store.Tag {
	t := store.Tag{Registry: testRegistry, Repository: "app", Name: name, Digest: digest, ChangedAt: t0}
	for i, d := range history {
		t.History = append(t.History, store.TagMove{Digest: d, Until: t0.Add(time.Duration(i+1) * time.Minute)})
	}
	return t
}

func deleted(t store.Tag, at time.Time) store.Tag {
	t.Deleted, t.DeletedAt = true, at
	return t
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(24 * time.Hour)
	type rows map[string][]store.Finding // digest → result recorded before
	tests := []struct {
		name   string
		before rows
		images []store.Image
		view   []store.Tag
		want   map[string]map[string]string // digest → RowKey → state
	}{
		{
			name:   "a tag moved to a scanned digest resolves the findings it lacks fixed and the rest untracked",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH"), finding("CVE-2", "HIGH")}, "sha256:b": {finding("CVE-2", "HIGH")}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 2), image("sha256:b", "", "linux/amd64", "scanned", 1)},
			view:   []store.Tag{tag("1", "sha256:b", "sha256:a")},
			want: map[string]map[string]string{
				"sha256:a": {key("CVE-1"): "resolved/fixed/sha256:b", key("CVE-2"): "resolved/untracked"},
				"sha256:b": {key("CVE-2"): "active"},
			},
		},
		{
			name:   "A then B then C between two listings resolves A by C",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}, "sha256:c": {}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1), image("sha256:c", "", "linux/amd64", "scanned", 0)},
			view:   []store.Tag{tag("1", "sha256:c", "sha256:a")},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "resolved/fixed/sha256:c"}},
		},
		{
			name:   "a digest still tagged elsewhere stays active",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}, "sha256:b": {}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1), image("sha256:b", "", "linux/amd64", "scanned", 0)},
			view:   []store.Tag{tag("1", "sha256:b", "sha256:a"), tag("stable", "sha256:a")},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "active"}},
		},
		{
			name:   "nothing resolves before the new digest is scanned",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1), image("sha256:b", "", "", "failed", 0)},
			view:   []store.Tag{tag("1", "sha256:b", "sha256:a")},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "active"}},
		},
		{
			name:   "a deleted tag resolves its digest deleted",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1)},
			view:   []store.Tag{deleted(tag("1", "sha256:a"), now)},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "resolved/deleted"}},
		},
		{
			name:   "a deleted tag of an index resolves every platform of the index deleted and no other image",
			before: rows{"sha256:amd": {finding("CVE-1", "HIGH")}, "sha256:arm": {finding("CVE-1", "HIGH")}, "sha256:other": {finding("CVE-1", "HIGH")}},
			images: []store.Image{
				image("sha256:amd", "sha256:idx", "linux/amd64", "scanned", 1),
				image("sha256:arm", "sha256:idx", "linux/arm64", "scanned", 1),
				image("sha256:other", "", "linux/amd64", "scanned", 1),
			},
			view: []store.Tag{deleted(tag("1", "sha256:idx"), now), tag("2", "sha256:other")},
			want: map[string]map[string]string{
				"sha256:amd":   {key("CVE-1"): "resolved/deleted"},
				"sha256:arm":   {key("CVE-1"): "resolved/deleted"},
				"sha256:other": {key("CVE-1"): "active"},
			},
		},
		{
			name: "an index losing a platform resolves that platform untracked and replaces the other",
			before: rows{"sha256:old-amd": {finding("CVE-1", "HIGH")}, "sha256:old-arm": {finding("CVE-1", "HIGH")},
				"sha256:new-amd": {finding("CVE-1", "HIGH")}},
			images: []store.Image{
				image("sha256:old-amd", "sha256:old", "linux/amd64", "scanned", 1),
				image("sha256:old-arm", "sha256:old", "linux/arm64", "scanned", 1),
				image("sha256:new-amd", "sha256:new", "linux/amd64", "scanned", 1),
				image("sha256:new-x", "sha256:new", "linux/s390x", "scanned", 0),
			},
			view: []store.Tag{tag("1", "sha256:new", "sha256:old")},
			want: map[string]map[string]string{
				"sha256:old-amd": {key("CVE-1"): "resolved/untracked"},
				"sha256:old-arm": {key("CVE-1"): "resolved/untracked"},
				"sha256:new-amd": {key("CVE-1"): "active"},
			},
		},
		{
			name:   "an index reduced to one platform resolves the dropped one untracked",
			before: rows{"sha256:old-arm": {finding("CVE-1", "HIGH")}, "sha256:new-amd": {}},
			images: []store.Image{
				image("sha256:old-arm", "sha256:old", "linux/arm64", "scanned", 1),
				image("sha256:new-amd", "sha256:new", "linux/amd64", "scanned", 0),
			},
			view: []store.Tag{tag("1", "sha256:new", "sha256:old")},
			want: map[string]map[string]string{"sha256:old-arm": {key("CVE-1"): "resolved/untracked"}},
		},
		{
			name:   "a single-platform image replaced by another platform's image is still replaced",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}, "sha256:b": {}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1), image("sha256:b", "", "linux/arm64", "scanned", 0)},
			view:   []store.Tag{tag("1", "sha256:b", "sha256:a")},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "resolved/fixed/sha256:b"}},
		},
		{
			name:   "a platform shared by the old and the new index is left alone",
			before: rows{"sha256:shared": {finding("CVE-1", "HIGH")}},
			images: []store.Image{image("sha256:shared", "sha256:new", "linux/amd64", "scanned", 1)},
			view:   []store.Tag{tag("1", "sha256:new", "sha256:old")},
			want:   map[string]map[string]string{"sha256:shared": {key("CVE-1"): "active"}},
		},
		{
			name:   "a replacement that could not be matched resolves untracked, never fixed",
			before: rows{"sha256:a": {finding("CVE-1", "HIGH")}},
			images: []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 1), image("sha256:b", "", "linux/amd64", "unsupported", 0)},
			view:   []store.Tag{tag("1", "sha256:b", "sha256:a")},
			want:   map[string]map[string]string{"sha256:a": {key("CVE-1"): "resolved/untracked"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			l := New(m)
			for digest, fs := range tt.before {
				if _, err := l.Record(ctx, testRegistry, "app", digest, fs, ReasonRescan, t0); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Reconcile(ctx, testRegistry, "app", tt.view, tt.images, now); err != nil {
				t.Fatal(err)
			}
			for digest, want := range tt.want {
				if diff := cmp.Diff(want, m.states("app", digest)); diff != "" {
					t.Errorf("states of %s (-want +got):\n%s", digest, diff)
				}
			}
			for pk, c := range m.counts {
				var active int
				for _, f := range m.rows[pk] {
					if f.State == StateActive {
						active++
					}
				}
				if c.High != active {
					t.Errorf("%s: counts set to %+v with %d active rows", pk, c, active)
				}
			}
			writes := m.writes
			images := append([]store.Image(nil), tt.images...)
			for i := range images {
				images[i].Counts = store.Counts{}
				if c, ok := m.counts[partition(testRegistry, "app", images[i].Digest)]; ok {
					images[i].Counts = c
				} else {
					images[i].Counts = tt.images[i].Counts
				}
			}
			if err := l.Reconcile(ctx, testRegistry, "app", tt.view, images, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if m.writes != writes {
				t.Errorf("reconciling again wrote %d more rows, want none", m.writes-writes)
			}
		})
	}
}

func TestRetrackReactivatesWhatUntaggingResolved(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	l := New(m)
	pk := partition(testRegistry, "app", "sha256:a")
	if _, err := l.Record(ctx, testRegistry, "app", "sha256:a",
		[]store.Finding{finding("CVE-1", "HIGH"), finding("CVE-2", "HIGH"), finding("CVE-3", "HIGH"), finding("CVE-4", "HIGH")}, ReasonRescan, t0); err != nil {
		t.Fatal(err)
	}
	for id, reason := range map[string]string{"CVE-1": ReasonFixed, "CVE-2": ReasonDeleted, "CVE-3": ReasonRescan, "CVE-4": ReasonUntracked} {
		f := m.rows[pk][key(id)]
		m.rows[pk][key(id)] = resolved(f, reason, "sha256:b", t0.Add(time.Hour))
	}
	images := []store.Image{image("sha256:a", "", "linux/amd64", "scanned", 0)}
	for range 2 {
		if err := l.Retrack(ctx, testRegistry, "app", []string{"sha256:a", "sha256:never-scanned"}, images); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{key("CVE-1"): "active", key("CVE-2"): "active", key("CVE-3"): "resolved/rescan/sha256:b", key("CVE-4"): "active"}
	if diff := cmp.Diff(want, m.states("app", "sha256:a")); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if c := m.counts[pk]; c.High != 3 {
		t.Errorf("counts %+v, want 3 high", c)
	}
	if f := m.rows[pk][key("CVE-1")]; !f.FirstSeenAt.Equal(t0) || !f.ResolvedAt.IsZero() {
		t.Errorf("reactivated row %+v, want FirstSeenAt kept and no resolution", f)
	}
}

func TestRematch(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	l := New(m)
	if _, err := l.Record(ctx, testRegistry, "app", "sha256:a", []store.Finding{finding("CVE-1", "HIGH"), finding("CVE-2", "LOW")}, ReasonRescan, t0); err != nil {
		t.Fatal(err)
	}
	raised := finding("CVE-1", "CRITICAL")
	raised.FixedVersion = "2.0"
	at := t0.Add(time.Hour)
	rematch := func(t *testing.T) store.Counts {
		t.Helper()
		c, err := l.Rematch(ctx, testRegistry, "app", "sha256:a", []store.Finding{raised, finding("CVE-3", "MEDIUM")}, "gen-b", at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	row := func(id string) store.Finding { return m.rows[partition(testRegistry, "app", "sha256:a")][key(id)] }
	counts := rematch(t)
	first := map[string]store.Finding{"CVE-1": row("CVE-1"), "CVE-2": row("CVE-2"), "CVE-3": row("CVE-3")}

	t.Run("a finding still matched is updated in place and keeps its first sighting", func(t *testing.T) {
		want := raised
		want.Registry, want.Repository, want.Digest = testRegistry, "app", "sha256:a"
		want.State, want.FirstSeenAt, want.LastSeenAt = StateActive, t0, at
		if diff := cmp.Diff(want, row("CVE-1")); diff != "" {
			t.Errorf("CVE-1 (-want +got):\n%s", diff)
		}
	})
	t.Run("a finding no longer matched resolves advisory with the generation", func(t *testing.T) {
		f := row("CVE-2")
		got := [4]string{f.State, f.ResolvedReason, f.ResolvedByGeneration, f.ResolvedAt.Format(time.RFC3339)}
		want := [4]string{StateResolved, ReasonAdvisory, "gen-b", at.Format(time.RFC3339)}
		if got != want {
			t.Errorf("CVE-2 = %v, want %v", got, want)
		}
	})
	t.Run("a new match is active and first seen at the rematch", func(t *testing.T) {
		if f := row("CVE-3"); f.State != StateActive || !f.FirstSeenAt.Equal(at) {
			t.Errorf("CVE-3 is %s first seen %v, want active first seen %v", f.State, f.FirstSeenAt, at)
		}
	})
	t.Run("the counts are the active rows'", func(t *testing.T) {
		if diff := cmp.Diff(store.Counts{Critical: 1, Medium: 1, FixableCount: 2}, counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
	})
	t.Run("the same rematch again leaves the same rows", func(t *testing.T) {
		rematch(t)
		again := map[string]store.Finding{"CVE-1": row("CVE-1"), "CVE-2": row("CVE-2"), "CVE-3": row("CVE-3")}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("rows after the second rematch (-first +second):\n%s", diff)
		}
	})
	t.Run("seen again by a scan, the resolution and its generation are cleared", func(t *testing.T) {
		if _, err := l.Record(ctx, testRegistry, "app", "sha256:a", []store.Finding{finding("CVE-2", "LOW")}, ReasonRescan, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if f := row("CVE-2"); f.State != StateActive || f.ResolvedByGeneration != "" || f.ResolvedReason != "" {
			t.Errorf("CVE-2 = %s/%s generation %q, want active without a resolution", f.State, f.ResolvedReason, f.ResolvedByGeneration)
		}
	})
}
