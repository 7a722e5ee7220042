package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// recordByRefresh is RecordInvocation as it was before the summary was kept
// incrementally, the baseline of BenchmarkRecordInvocation: the invocation row read
// and written, then the summary recomputed from a listing of every row of the run
// (RefreshRun).
func (s *Store) recordByRefresh(ctx context.Context, date, runID, invocation string, d RunDelta) error {
	pk, rk := EscapeKey(date), invocationRowKey(runID, invocation)
	err := readModifyWrite(ctx, s.runs, pk, rk, func(current row, exists bool) (entity, bool, error) {
		if exists {
			d.Deliveries = max(d.Deliveries, current.int("Deliveries"))
			prev := current.time("StartedAt")
			if !prev.IsZero() && (d.StartedAt.IsZero() || prev.Before(d.StartedAt)) {
				d.StartedAt = prev
			}
		}
		return d.entity(date, runID, invocation), true, nil
	})
	if err != nil {
		return err
	}
	return s.RefreshRun(ctx, date, runID)
}

// BenchmarkRecordInvocation measures the storage transactions (and time) of one
// invocation record in a run that already has 10 or 2,000 invocation rows: a first
// delivery, a redelivery, 32 concurrent first deliveries in one process and in four
// (eight each), each the incremental way (RecordInvocation) and the baseline way
// (recordByRefresh).
func BenchmarkRecordInvocation(b *testing.B) {
	ctx := context.Background()
	counter := NewTransactionCounter()
	s := newTestStore(b, WithTransactionCounter(counter))
	processes := []*Store{s}
	for range 3 {
		processes = append(processes, sameStore(b, s, testenv.Storage(b), WithTransactionCounter(counter)))
	}
	start := time.Date(2025, 7, 10, 6, 0, 0, 0, time.UTC)
	ways := []struct {
		name   string
		record func(s *Store) func(ctx context.Context, date, runID, invocation string, d RunDelta) error
	}{
		{"incremental", func(s *Store) func(context.Context, string, string, string, RunDelta) error {
			return s.RecordInvocation
		}},
		{"refresh", func(s *Store) func(context.Context, string, string, string, RunDelta) error { return s.recordByRefresh }},
	}
	var unique atomic.Int64
	fresh := func(prefix string) string { return fmt.Sprintf("%s-%06d", prefix, unique.Add(1)) }
	d := RunDelta{Scanned: 1, Deliveries: 1, StartedAt: start, FinishedAt: start.Add(time.Second)}
	for _, rows := range []int{10, 2000} {
		for _, way := range ways {
			// Each iteration records into a run of its own, in a partition of its own
			// (Azurite scans a whole partition for a range), seeded with rows rows (not
			// timed, not counted), so a run does not grow during a benchmark.
			measure := func(b *testing.B, records int, op func(date, runID string, i int)) {
				var counted int64
				b.StopTimer()
				for i := range b.N {
					date, runID := fresh("date"), fresh("run")
					seedRun(b, s, date, runID, rows, start)
					before := counter.ByService()[ServiceTable]
					b.StartTimer()
					op(date, runID, i)
					b.StopTimer()
					counted += counter.ByService()[ServiceTable] - before
				}
				b.ReportMetric(float64(counted)/float64(b.N*records), "transactions/record")
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*records), "µs/record")
			}
			concurrently := func(b *testing.B, stores []*Store) {
				measure(b, 32, func(date, runID string, _ int) {
					var wg sync.WaitGroup
					for j := range 32 {
						wg.Go(func() {
							if err := way.record(stores[j%len(stores)])(ctx, date, runID, fresh("new"), d); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				})
			}
			record := way.record(s)
			name := func(what string) string { return fmt.Sprintf("rows=%d/%s/%s", rows, what, way.name) }
			b.Run(name("first-delivery"), func(b *testing.B) {
				measure(b, 1, func(date, runID string, _ int) {
					if err := record(ctx, date, runID, fresh("new"), d); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run(name("redelivery"), func(b *testing.B) {
				measure(b, 1, func(date, runID string, i int) {
					redelivery := d
					redelivery.Deliveries = 2
					if err := record(ctx, date, runID, fmt.Sprintf("seed-%05d", i%rows), redelivery); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run(name("32-concurrent-in-1-process"), func(b *testing.B) { concurrently(b, processes[:1]) })
			b.Run(name("32-concurrent-in-4-processes"), func(b *testing.B) { concurrently(b, processes) })
		}
	}
}

// seedRun writes rows invocation rows of run runID and its summary (as their sum).
func seedRun(b *testing.B, s *Store, date, runID string, rows int, start time.Time) {
	b.Helper()
	ctx := context.Background()
	entities := make([]entity, 0, rows)
	deltas := make([]RunDelta, 0, rows)
	for i := range rows {
		d := RunDelta{Scanned: 1, Deliveries: 1, StartedAt: start, FinishedAt: start.Add(time.Second)}
		entities = append(entities, d.entity(date, runID, fmt.Sprintf("seed-%05d", i)))
		deltas = append(deltas, d)
	}
	entities = append(entities, summarizeState(date, runID, deltas).entity())
	if err := submitBatches(ctx, s.runs, entities, aztables.TransactionTypeInsertReplace); err != nil {
		b.Fatal(err)
	}
}
