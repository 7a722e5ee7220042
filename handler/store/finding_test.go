package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tidewatch/tidewatch/handler/match"
)

// batchCounter records, for every entity-group transaction sent, how many
// operations it carried.
type batchCounter struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchCounter) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method == http.MethodPost && strings.HasSuffix(req.Raw().URL.Path, "/$batch") && req.Body() != nil {
		body, err := io.ReadAll(req.Body())
		if err != nil {
			return nil, err
		}
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.sizes = append(b.sizes, bytes.Count(body, []byte("Content-Type: application/http")))
		b.mu.Unlock()
	}
	return req.Next()
}

func (b *batchCounter) take() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sizes
	b.sizes = nil
	return s
}

func testFindings(n int, registry, repo string) []Finding {
	fs := make([]Finding, n)
	for i := range fs {
		sev := []string{match.SeverityCritical, match.SeverityHigh, match.SeverityMedium, match.SeverityLow, match.SeverityUnknown}[i%5]
		fs[i] = NewFinding(registry, repo, match.Finding{
			ID: fmt.Sprintf("CVE-2024-%05d", i), Aliases: []string{fmt.Sprintf("DSA-%d-1", i), fmt.Sprintf("DLA-%d-1", i)},
			Package: fmt.Sprintf("lib%d", i), SourcePackage: fmt.Sprintf("src%d", i), Ecosystem: "Debian:12",
			InstalledVersion: "1.0-1", FixedVersion: "1.0-2", FixStatus: match.FixStatusFixed, Severity: sev,
			CVSS:  &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N", Score: 7.0 + float64(i%3)/10},
			Layer: match.Layer{DiffID: "sha256:layer", Index: i % 4}, Remediation: "upgrade to 1.0-2",
		})
	}
	return fs
}

func TestUpsertFindings(t *testing.T) {
	counter := &batchCounter{}
	s := newTestStore(t, WithPerCallPolicy(counter))
	ctx := context.Background()
	const digest = "sha256:img1"
	t1 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	t2 := t1.Add(6 * time.Hour)
	input := testFindings(250, "r.example", "team/app")

	if err := s.UpsertFindings(ctx, digest, input, t1); err != nil {
		t.Fatal(err)
	}
	t.Run("250 findings land in three transactions of at most 100", func(t *testing.T) {
		sizes := counter.take()
		if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
			t.Errorf("transaction sizes (-want +got):\n%s", diff)
		}
	})

	first, err := s.ListFindings(ctx, FindingFilter{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("every finding round-trips with bookkeeping columns set", func(t *testing.T) {
		var want []Finding
		for _, f := range input {
			f.Digest, f.FirstSeenAt, f.LastSeenAt, f.State = digest, t1, t1, StateActive
			want = append(want, f)
		}
		if diff := cmp.Diff(want, first, sortFindings); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})

	if err := s.UpsertFindings(ctx, digest, input, t2); err != nil {
		t.Fatal(err)
	}
	counter.take()
	second, err := s.ListFindings(ctx, FindingFilter{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a duplicate delivery leaves identical rows apart from LastSeenAt", func(t *testing.T) {
		if diff := cmp.Diff(first, second, sortFindings, cmpopts.IgnoreFields(Finding{}, "LastSeenAt")); diff != "" {
			t.Errorf("rows changed (-first +second):\n%s", diff)
		}
		for _, f := range second {
			if !f.LastSeenAt.Equal(t2) || !f.FirstSeenAt.Equal(t1) {
				t.Fatalf("%s: FirstSeenAt %v LastSeenAt %v, want %v and %v", f.RowKey(), f.FirstSeenAt, f.LastSeenAt, t1, t2)
			}
		}
	})

	t.Run("findings absent from a later upsert are not touched", func(t *testing.T) {
		if err := s.UpsertFindings(ctx, digest, input[:10], t2.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		third, err := s.ListFindings(ctx, FindingFilter{Digest: digest})
		if err != nil {
			t.Fatal(err)
		}
		if len(third) != 250 {
			t.Fatalf("%d rows, want 250", len(third))
		}
		sort.Slice(third, func(i, j int) bool { return third[i].VulnerabilityID < third[j].VulnerabilityID })
		if !third[200].LastSeenAt.Equal(t2) || third[200].State != StateActive {
			t.Errorf("untouched row changed: %+v", third[200])
		}
	})
}

var sortFindings = cmpopts.SortSlices(func(a, b Finding) bool { return a.RowKey() < b.RowKey() })

func TestResolveFindings(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const oldDigest, newDigest = "sha256:old", "sha256:new"
	seen := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	resolvedAt := seen.Add(24 * time.Hour)
	all := testFindings(5, "r.example", "app")
	if err := s.UpsertFindings(ctx, oldDigest, all, seen); err != nil {
		t.Fatal(err)
	}
	// The new image fixed findings 0 and 1 and still has 2, 3, 4.
	if err := s.UpsertFindings(ctx, newDigest, all[2:], seen); err != nil {
		t.Fatal(err)
	}

	n, err := s.ResolveFindings(ctx, oldDigest, newDigest, resolvedAt)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("only findings the new digest lacks are resolved", func(t *testing.T) {
		if n != 2 {
			t.Errorf("resolved %d, want 2", n)
		}
		got, err := s.ListFindings(ctx, FindingFilter{Digest: oldDigest})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Finding{}
		for i, f := range all {
			f.Digest, f.FirstSeenAt, f.LastSeenAt, f.State = oldDigest, seen, seen, StateActive
			if i < 2 {
				f.State, f.ResolvedAt, f.ResolvedByDigest = StateResolved, resolvedAt, newDigest
			}
			want[f.VulnerabilityID] = f
		}
		for _, f := range got {
			if diff := cmp.Diff(want[f.VulnerabilityID], f); diff != "" {
				t.Errorf("%s (-want +got):\n%s", f.VulnerabilityID, diff)
			}
		}
	})

	t.Run("resolving again changes nothing and keeps the first ResolvedAt", func(t *testing.T) {
		before, err := s.ListFindings(ctx, FindingFilter{Digest: oldDigest})
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.ResolveFindings(ctx, oldDigest, newDigest, resolvedAt.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("second call resolved %d, want 0", n)
		}
		after, err := s.ListFindings(ctx, FindingFilter{Digest: oldDigest})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after, sortFindings); diff != "" {
			t.Errorf("rows changed (-before +after):\n%s", diff)
		}
	})

	t.Run("a rescan of the old digest keeps resolved rows resolved", func(t *testing.T) {
		if err := s.UpsertFindings(ctx, oldDigest, all, resolvedAt.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListFindings(ctx, FindingFilter{Digest: oldDigest, State: StateResolved})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("%d resolved rows, want 2", len(got))
		}
	})

	t.Run("filters select by repository, state and severity", func(t *testing.T) {
		tests := []struct {
			name   string
			filter FindingFilter
			want   []string
		}{
			{"active findings of the repository", FindingFilter{Registry: "r.example", Repository: "app", State: StateActive},
				[]string{"CVE-2024-00002", "CVE-2024-00002", "CVE-2024-00003", "CVE-2024-00003", "CVE-2024-00004", "CVE-2024-00004"}},
			{"high and above of the new digest", FindingFilter{Digest: newDigest, Severities: SeveritiesAtLeast(match.SeverityHigh)},
				nil},
			{"medium and above of the old digest", FindingFilter{Digest: oldDigest, Severities: SeveritiesAtLeast("medium")},
				[]string{"CVE-2024-00000", "CVE-2024-00001", "CVE-2024-00002"}},
			{"another repository has none", FindingFilter{Registry: "r.example", Repository: "other"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListFindings(ctx, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, f := range got {
					ids = append(ids, f.VulnerabilityID)
				}
				sort.Strings(ids)
				if diff := cmp.Diff(tt.want, ids); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestSeveritiesAtLeast(t *testing.T) {
	tests := []struct {
		min  string
		want []string
	}{
		{"CRITICAL", []string{"CRITICAL"}},
		{"low", []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}},
		{"bogus", nil},
	}
	for _, tt := range tests {
		t.Run("at least "+tt.min, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SeveritiesAtLeast(tt.min)); diff != "" {
				t.Error(diff)
			}
		})
	}
}
