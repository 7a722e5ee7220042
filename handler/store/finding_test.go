package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

func testFindings(n int, registry, repo, digest string) []Finding {
	fs := make([]Finding, n)
	for i := range fs {
		sev := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}[i%5]
		fs[i] = Finding{
			Registry: registry, Repository: repo, Digest: digest,
			VulnerabilityID: fmt.Sprintf("CVE-2024-%05d", i), Aliases: []string{fmt.Sprintf("DSA-%d-1", i), fmt.Sprintf("DLA-%d-1", i)},
			Package: fmt.Sprintf("lib%d", i), SourcePackage: fmt.Sprintf("src%d", i), Ecosystem: "Debian:12",
			InstalledVersion: "1.0-1", FixedVersion: "1.0-2", FixStatus: "fixed", Severity: sev,
			CvssScore: 7.0 + float64(i%3)/10, CvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
			SeveritySource: fmt.Sprintf("CVSS_V3 from CVE-2024-%05d", i), LayerDigest: "sha256:layer", LayerIndex: i % 4, Remediation: "upgrade to 1.0-2",
			Location: "var/lib/dpkg/status", Purl: fmt.Sprintf("pkg:deb/debian/lib%d@1.0-1", i),
			FirstSeenAt: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC), LastSeenAt: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC),
			State: "active",
		}
	}
	return fs
}

var sortFindings = cmpopts.SortSlices(func(a, b Finding) bool { return a.RowKey() < b.RowKey() })

func TestPutFindings(t *testing.T) {
	counter := &batchCounter{}
	s := newTestStore(t, WithPerCallPolicy(counter))
	ctx := context.Background()
	const reg, digest = "r.example", "sha256:img1"
	input := testFindings(250, reg, "team/app", digest)

	if err := s.PutFindings(ctx, reg, "team/app", digest, input); err != nil {
		t.Fatal(err)
	}
	t.Run("250 findings land in three transactions of at most 100", func(t *testing.T) {
		if diff := cmp.Diff([]int{100, 100, 50}, counter.take()); diff != "" {
			t.Errorf("transaction sizes (-want +got):\n%s", diff)
		}
	})
	t.Run("every finding round-trips through its partition", func(t *testing.T) {
		got, err := s.FindingsOf(ctx, reg, "team/app", digest)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(input, got, sortFindings); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})

	resolvedAt := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	resolved := input[0]
	resolved.State, resolved.ResolvedReason, resolved.ResolvedAt, resolved.ResolvedByDigest = "resolved", "fixed", resolvedAt, "sha256:new"
	if err := s.PutFindings(ctx, reg, "team/app", digest, []Finding{resolved}); err != nil {
		t.Fatal(err)
	}
	t.Run("a resolved row keeps its reason, time and resolving digest", func(t *testing.T) {
		got, err := s.ListFindings(ctx, FindingFilter{Registry: reg, Repository: "team/app", Digest: digest, State: "resolved"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Finding{resolved}, got); diff != "" {
			t.Errorf("resolved rows (-want +got):\n%s", diff)
		}
	})
	t.Run("writing the row active again removes the resolution columns", func(t *testing.T) {
		if err := s.PutFindings(ctx, reg, "team/app", digest, input[:1]); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindingsOf(ctx, reg, "team/app", digest)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			if f.RowKey() == input[0].RowKey() {
				if diff := cmp.Diff(input[0], f); diff != "" {
					t.Errorf("reactivated row (-want +got):\n%s", diff)
				}
			}
		}
	})
	t.Run("the same digest in another repository has rows of its own", func(t *testing.T) {
		if err := s.PutFindings(ctx, reg, "team/other", digest, input[:3]); err != nil {
			t.Fatal(err)
		}
		other, err := s.FindingsOf(ctx, reg, "team/other", digest)
		if err != nil {
			t.Fatal(err)
		}
		mine, err := s.FindingsOf(ctx, reg, "team/app", digest)
		if err != nil {
			t.Fatal(err)
		}
		if len(other) != 3 || len(mine) != 250 {
			t.Errorf("team/other has %d rows, team/app %d; want 3 and 250", len(other), len(mine))
		}
		for _, f := range other {
			if f.Repository != "team/other" {
				t.Errorf("row %s of team/other names repository %q", f.RowKey(), f.Repository)
			}
		}
	})
}

func TestFindingKeys(t *testing.T) {
	f := Finding{VulnerabilityID: "CVE-1", Ecosystem: "Debian:12", Package: "libssl3", Location: "var/lib/dpkg/status"}
	tests := []struct {
		name, got, want string
	}{
		{"the PartitionKey is registry/repository@digest, escaped", FindingsKey("r.example:5000", "team/app", "sha256:ab"), "r.example:5000%2Fteam%2Fapp@sha256:ab"},
		{"the RowKey names vulnerability, ecosystem, package and location", f.RowKey(), "CVE-1~Debian:12~libssl3~var%2Flib%2Fdpkg%2Fstatus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("key %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestListFindingsFilters(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, w := range []struct{ repo, digest string }{{"app", "sha256:a"}, {"app", "sha256:b"}, {"other", "sha256:a"}} {
		fs := testFindings(5, "r.example", w.repo, w.digest)
		fs[4].State = "resolved"
		if err := s.PutFindings(ctx, "r.example", w.repo, w.digest, fs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		filter FindingFilter
		want   int
	}{
		{"active findings of a repository span its digests", FindingFilter{Registry: "r.example", Repository: "app", State: "active"}, 8},
		{"a digest alone spans repositories", FindingFilter{Digest: "sha256:a"}, 10},
		{"registry, repository and digest select one partition", FindingFilter{Registry: "r.example", Repository: "other", Digest: "sha256:a"}, 5},
		{"severities are ored", FindingFilter{Repository: "app", Severities: []string{"CRITICAL", "HIGH"}}, 4},
		{"another repository has none", FindingFilter{Registry: "r.example", Repository: "none"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListFindings(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("%d findings, want %d", len(got), tt.want)
			}
		})
	}
}
