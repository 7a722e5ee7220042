package pipeline

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// pagedCatalog is a registry whose catalog comes in pages. Page i (from 0) is served
// only once gates[i] is closed, when it has one, and answers errs[i] instead, when
// it has one.
type pagedCatalog struct {
	fakeRegistry
	pages [][]string
	gates map[int]<-chan struct{}
	errs  map[int]error
}

func (c pagedCatalog) RepositoryPages(ctx context.Context, page func(context.Context, []string) error) error {
	for i, repos := range c.pages {
		if gate, ok := c.gates[i]; ok {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := c.errs[i]; err != nil {
			return err
		}
		if err := page(ctx, repos); err != nil {
			return err
		}
	}
	return nil
}

// signallingQueue is a queue that closes sent once a message naming repo went out.
type signallingQueue struct {
	taskQueue
	repo string
	once *sync.Once
	sent chan struct{}
}

func (q signallingQueue) Send(ctx context.Context, text []byte) error {
	err := q.taskQueue.Send(ctx, text)
	task, derr := store.DecodeListTask(text)
	if err == nil && derr == nil && slices.ContainsFunc(task.Each(), func(one store.ListTask) bool { return one.Repository == q.repo }) {
		q.once.Do(func() { close(q.sent) })
	}
	return err
}

// sentRepositories is every repository named by the list tasks m holds, sorted.
func sentRepositories(t *testing.T, m *memStore) []string {
	t.Helper()
	var got []string
	for _, msg := range m.sent["list-tasks"] {
		task, err := store.DecodeListTask([]byte(msg.Text))
		if err != nil {
			t.Fatalf("undecodable list task %q: %v", msg.Text, err)
		}
		for _, one := range task.Each() {
			got = append(got, one.Repository)
		}
	}
	slices.Sort(got)
	return got
}

func TestTheSweepSendsAPagesListTasksBeforeAskingForTheNextPage(t *testing.T) {
	m := newMemStore()
	sent := make(chan struct{})
	reg := pagedCatalog{
		pages: [][]string{{"a", "b"}, {"c", "d"}, {"e"}},
		gates: map[int]<-chan struct{}{1: sent}, // page 2 waits for a list task of page 1
	}
	p := unitPipeline(t, m, fakeRegistry{})
	p.registries[testRegistry] = reg
	p.listTasks = signallingQueue{taskQueue: p.listTasks, repo: "a", once: new(sync.Once), sent: sent}
	// Bounded: a sweep that walks the whole catalog before sending waits for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := p.Sweep(ctx, &host.Invocation{Function: FuncSweep, InvocationID: "tick-1"}, discardLog()); err != nil {
		t.Fatalf("Sweep: %v", err)
	}

	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, sentRepositories(t, m)); diff != "" {
		t.Errorf("repositories sent (-want +got), each exactly once:\n%s", diff)
	}
	if d := m.runs[key(runDate(testNow), "20260310T060000Z", sweepInvocation)]; d.Repositories != 5 || d.Failed != 0 {
		t.Errorf("the tick recorded %+v, want 5 repositories and no failure", d)
	}
}

func TestACatalogFailingOnItsThirdPageKeepsTheFirstTwoEnqueuedAndFailsTheSweep(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound} {
		t.Run(http.StatusText(status)+" on the third page", func(t *testing.T) {
			m := newMemStore()
			reg := pagedCatalog{
				pages: [][]string{{"a", "b"}, {"c", "d"}, {"e"}},
				errs: map[int]error{2: &registry.Error{Op: "list repositories", Ref: testRegistry, Status: status,
					Err: errors.New("refused by the registry")}},
			}
			p := unitPipeline(t, m, fakeRegistry{})
			p.registries[testRegistry] = reg

			err := p.Sweep(context.Background(), &host.Invocation{Function: FuncSweep, InvocationID: "tick-1"}, discardLog())

			if err == nil || !strings.Contains(err.Error(), testRegistry) || !strings.Contains(err.Error(), "catalog") {
				t.Fatalf("Sweep error = %v, want one naming %s and its catalog", err, testRegistry)
			}
			if diff := cmp.Diff([]string{"a", "b", "c", "d"}, sentRepositories(t, m)); diff != "" {
				t.Errorf("repositories sent (-want +got): the pages before the failure stay sent\n%s", diff)
			}
			d := m.runs[key(runDate(testNow), "20260310T060000Z", sweepInvocation)]
			if d.Repositories != 4 || d.Failed != 1 || !strings.Contains(d.Failure, "refused by the registry") {
				t.Errorf("the tick recorded %+v, want 4 repositories and the catalog's failure", d)
			}
		})
	}
}

func TestASendFailureStopsTheCatalogWalkAndFailsTheSweep(t *testing.T) {
	m := newMemStore()
	m.failAt = 1 // the first list task
	pagesAsked := 0
	reg := countingCatalog{pagedCatalog: pagedCatalog{pages: [][]string{{"a"}, {"b"}, {"c"}}}, asked: &pagesAsked}
	p := unitPipeline(t, m, fakeRegistry{})
	p.registries[testRegistry] = reg

	err := p.Sweep(context.Background(), &host.Invocation{Function: FuncSweep, InvocationID: "tick-1"}, discardLog())

	if !errors.Is(err, errInjected) {
		t.Fatalf("Sweep error = %v, want the send's failure", err)
	}
	if pagesAsked != 1 {
		t.Errorf("%d catalog pages handed over, want 1: the walk stops at a failed send", pagesAsked)
	}
}

// countingCatalog counts the pages it handed over.
type countingCatalog struct {
	pagedCatalog
	asked *int
}

func (c countingCatalog) RepositoryPages(ctx context.Context, page func(context.Context, []string) error) error {
	return c.pagedCatalog.RepositoryPages(ctx, func(ctx context.Context, repos []string) error {
		*c.asked++
		return page(ctx, repos)
	})
}
