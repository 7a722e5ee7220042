package pipeline

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/store"
)

func TestScanBatchesOfSeveralRepositoriesNameEachDigestsRepository(t *testing.T) {
	base := store.ScanTask{Registry: "r.example", Repository: "a", RunID: "r1"}
	d := func(i int, repo string) store.ScanDigest {
		return store.ScanDigest{Digest: fmt.Sprintf("sha256:%064x", i), Reason: store.ReasonPush, Repository: repo}
	}
	tests := []struct {
		name    string
		digests []store.ScanDigest
		want    string // the repository of the task, then each digest's as it is sent
	}{
		{"a task takes its first digest's repository and only others name theirs", []store.ScanDigest{d(1, "b"), d(2, "b"), d(3, "c/d")}, "b: - - c/d"},
		{"a lone digest of another repository is a single-digest task of that repository", []store.ScanDigest{d(1, "c/d")}, "c/d:"},
		{"digests naming no repository are of the base task's", []store.ScanDigest{d(1, ""), d(2, "b")}, "a: - b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := scanBatches(base, tt.digests)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d tasks, want 1", len(msgs))
			}
			task, err := store.DecodeScanTask(msgs[0])
			if err != nil {
				t.Fatalf("task %s: %v", msgs[0], err)
			}
			got := task.Repository + ":"
			for _, one := range task.Digests {
				got += " " + cmp.Or(one.Repository, "-")
			}
			if got != tt.want {
				t.Errorf("sent %s, want %s", got, tt.want)
			}
			for i, one := range task.Each() {
				if want := cmp.Or(tt.digests[i].Repository, base.Repository); one.Repository != want {
					t.Errorf("digest %d is scanned in %q, want %q", i, one.Repository, want)
				}
			}
		})
	}
}

func TestScanBatchesCarryEveryDigestOnceInTasksThatFit(t *testing.T) {
	base := store.ScanTask{Registry: "r.example", Repository: "a", RunID: "r1"}
	digests := func(n, tags int) []store.ScanDigest {
		out := make([]store.ScanDigest, n)
		for i := range out {
			out[i] = store.ScanDigest{Digest: fmt.Sprintf("sha256:%064x", i), Reason: store.ReasonPush}
			for j := range tags {
				out[i].Tags = append(out[i].Tags, fmt.Sprintf("t%d-%0100d", i, j))
			}
		}
		return out
	}
	tests := []struct {
		name      string
		digests   []store.ScanDigest
		wantSizes []int
	}{
		{name: "one digest goes as a single-digest task", digests: digests(1, 1), wantSizes: []int{1}},
		{name: "three digests go as one task of three", digests: digests(3, 2), wantSizes: []int{3}},
		{name: "120 digests go as tasks of 50, 50 and 20", digests: digests(120, 1), wantSizes: []int{50, 50, 20}},
		// 50 digests of 20 tags of ~105 bytes: ~100 KB, over one message.
		{name: "digests with many tags are split until each task fits a message", digests: digests(50, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := scanBatches(base, tt.digests)
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			seen := map[string]int{}
			for _, m := range msgs {
				if len(m) > store.MaxMessageBytes {
					t.Errorf("a task of %d bytes, over %d", len(m), store.MaxMessageBytes)
				}
				task, err := store.DecodeScanTask(m)
				if err != nil {
					t.Fatalf("task %s: %v", m, err)
				}
				if len(task.Digests) == 1 {
					t.Errorf("a batch task of one digest (a single digest goes as a single-digest task): %s", m)
				}
				each := task.Each()
				sizes = append(sizes, len(each))
				for _, one := range each {
					seen[one.Digest]++
				}
			}
			for _, d := range tt.digests {
				if seen[d.Digest] != 1 {
					t.Errorf("digest %s is in %d tasks, want 1", d.Digest, seen[d.Digest])
				}
			}
			if len(seen) != len(tt.digests) {
				t.Errorf("tasks carry %d digests, want %d", len(seen), len(tt.digests))
			}
			if tt.wantSizes != nil && fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("task sizes %v, want %v", sizes, tt.wantSizes)
			}
			if tt.wantSizes == nil && len(msgs) < 2 {
				t.Errorf("%d tasks, want the digests split over several", len(msgs))
			}
		})
	}
	// The single-digest form is the one registry events send: no "digests" field.
	msgs, err := scanBatches(base, digests(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(msgs[0], &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["digests"]; ok || !strings.Contains(string(raw["digest"]), "sha256:") {
		t.Errorf("a single due digest encoded as %s, want the single-digest form", msgs[0])
	}
}
