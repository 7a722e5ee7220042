package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// pipelineHandler is the custom handler plus the store it writes to.
type pipelineHandler struct {
	http.Handler
	store *store.Store
}

// runPipeline plays the Functions host locally: one timer tick to /sweep (preceded by
// one to /advisories when TIDEWATCH_ADVISORIES_URL is an http(s) URL), and while the
// sweep runs and after it, it drains registry-events, list-tasks, scan-tasks and
// rematch-tasks by POSTing each message to /registryeventsqueue, /listrepo, /scan and
// /rematch with the host's envelopes, deleting on 200 and leaving the message for
// redelivery on any other status (poison after host.MaxDequeueCount), exactly as the
// queue trigger does. A task the handler deferred (re-enqueued with a registry's long Retry-After) is not
// waited for once only deferred tasks remain: it is counted and left queued. Messages
// on registry-events go to /registryeventsqueue the same way. With --http it also
// plays the host's HTTP front for /api/registryevents (function key checked as the
// host does, see triggerFront); with --watch it keeps delivering until interrupted.
//
// --stop-before scan delivers no scan task: the sweep and the list tasks run, the scan
// tasks they enqueue stay queued (the activity stage timed alone). --parallel N keeps up
// to N invocations in flight, as the host runs a queue batch at once. --count-storage
// prints the storage transactions the handler made and, per function, the invocations'
// summed, overlapped (active) and billed time (billing.go).
func runPipeline(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	timeout := fs.Duration("timeout", 20*time.Minute, "give up when the queues are not drained by then (with --watch: stop then; no limit unless given)")
	retryDelay := fs.Duration("retry-delay", time.Second, "visibility delay before a failed message is redelivered")
	httpAddr := fs.String("http", "", "also serve HTTP triggers (POST /api/registryevents) on this address, e.g. 127.0.0.1:7071")
	keyFile := fs.String("function-key-file", "", "file holding the function key HTTP triggers require (x-functions-key header or code query parameter); required with --http")
	watch := fs.Bool("watch", false, "keep delivering queue messages (and serving --http) until interrupted instead of stopping when the queues are drained")
	stopBefore := fs.String("stop-before", "", `"scan": run the sweep and the list tasks, leave the scan tasks queued`)
	parallel := fs.Int("parallel", 1, "invocations in flight at once (1 to 32)")
	timers := fs.String("timers", "", `timer functions to fire first, comma-separated, in order ("advisories", "sweep"; default: the sweep, preceded by advisories when TIDEWATCH_ADVISORIES_URL is http(s))`)
	countStorage := fs.Bool("count-storage", false, "print the storage transactions made, per service and resource, and per function the invocations' busy, active and billed time")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (handler and host stand-in, one process) to this file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "tidewatch run: --cpuprofile: %v\n", err)
			return exitError
		}
		defer stop()
	}
	if *stopBefore != "" && *stopBefore != pipeline.FuncScan {
		fmt.Fprintf(env.Stderr, "tidewatch run: --stop-before %q: only %q is supported\n", *stopBefore, pipeline.FuncScan)
		return exitUsage
	}
	if *parallel < 1 || *parallel > maxReceive {
		fmt.Fprintf(env.Stderr, "tidewatch run: --parallel %d: want 1 to %d\n", *parallel, maxReceive)
		return exitUsage
	}
	var fired []string
	if *timers != "" {
		var err error
		if fired, err = parseTimers(*timers); err != nil {
			fmt.Fprintf(env.Stderr, "tidewatch run: --timers: %v\n", err)
			return exitUsage
		}
	}
	cfg, err := config.Load(env.Environ)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
		return exitError
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	if err := cfg.RequireRegistries(); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
		return exitError
	}
	var functionKey string
	if *httpAddr != "" {
		if functionKey, err = readFunctionKey(*keyFile); err != nil {
			fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
			return exitError
		}
	}
	// --watch runs until interrupted unless a --timeout is given.
	timed := !*watch
	fs.Visit(func(f *flag.Flag) { timed = timed || f.Name == "timeout" })
	cancel := context.CancelFunc(func() {})
	if timed {
		ctx, cancel = context.WithTimeout(ctx, *timeout)
	}
	defer cancel()
	var storeOpts []store.Option
	var counter *store.TransactionCounter
	if *countStorage {
		counter = store.NewTransactionCounter()
		storeOpts = append(storeOpts, store.WithTransactionCounter(counter))
	}
	r, err := startLocalHost(ctx, cfg, env.Version, log, storeOpts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
		return exitError
	}
	defer r.close()
	if *httpAddr != "" {
		base, err := r.serveTriggers(*httpAddr, functionKey)
		if err != nil {
			fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
			return exitError
		}
		fmt.Fprintf(env.Stdout, "run: serving HTTP triggers at %s/api/%s\n", base, pipeline.FuncRegistryEvents)
	}
	r.stopBefore, r.parallel, r.keepSpans = *stopBefore, *parallel, counter != nil
	if fired != nil {
		r.timers = fired
	}
	drive := r.drive
	if *watch {
		drive = r.watchAfterTimers
	}
	started := time.Now()
	stats, err := drive(ctx, *retryDelay)
	fmt.Fprintf(env.Stdout, "run: %d invocations, %d completed, %d retried, %d deferred, %d moved to poison in %.3fs (invocations busy %.3fs)\n",
		stats.invocations, stats.completed, stats.retried, stats.deferred, stats.poisoned, time.Since(started).Seconds(), stats.busy.Seconds())
	if r.stopBefore != "" {
		// A scan task carries one digest or a listing's batch of them: the digests are
		// what the runs counted enqueued (today's runs, also those of earlier runs).
		if n, cerr := r.store.ScanTasks().ApproximateCount(ctx); cerr == nil {
			fmt.Fprintf(env.Stdout, "run: stopped before scan: %d scan tasks left queued; today's runs enqueued %d digest scans\n", n, enqueuedToday(ctx, r.store))
		}
	}
	if counter != nil {
		printBilling(env.Stdout, r.invocationSpans(), r.parallel)
		printTransactions(env.Stdout, counter)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch run: %v\n", err)
		return exitError
	}
	if stats.poisoned > 0 {
		return exitError
	}
	return exitOK
}

type localHost struct {
	base   string
	store  *store.Store
	server *http.Server
	// front serves HTTP triggers (--http), when started.
	front *http.Server
	log   *slog.Logger
	// timers are the timer functions fired, in order, before the queues are drained
	// (default: the sweep).
	timers []string
	// stopBefore names a queue function whose tasks are left queued ("" or "scan").
	stopBefore string
	// parallel is how many invocations may be in flight at once (0 counts as 1).
	parallel int

	mu sync.Mutex // guards deferredUntil and the stats while a batch is delivered
	// deferredUntil holds when each task the handler deferred becomes visible again.
	deferredUntil []time.Time
	// spans holds when each invocation ran, kept only when keepSpans is set (by
	// --count-storage, printed per function): --watch would otherwise grow it forever.
	spans     []invocationSpan
	keepSpans bool
}

type runStats struct {
	invocations, completed, retried, deferred, poisoned int
	// busy is the summed duration of the invocations (what on-demand execution time
	// is billed on, before an instance overlaps its executions).
	busy time.Duration
}

func startLocalHost(ctx context.Context, cfg *config.Config, version string, log *slog.Logger, storeOpts []store.Option, opts ...pipeline.Option) (*localHost, error) {
	st, err := openStore(ctx, cfg, storeOpts...)
	if err != nil {
		return nil, err
	}
	h, err := handlerFor(cfg, st, version, log, opts...)
	if err != nil {
		return nil, err
	}
	r, err := serveLocally(ctx, h, log)
	if err != nil {
		return nil, err
	}
	r.timers = timersFor(cfg)
	return r, nil
}

// timersFor is the timer functions a run fires: the sweep, preceded by the
// advisories sync when the advisory source is an http(s) URL (scans then load what
// that sync wrote to blob storage).
func timersFor(cfg *config.Config) []string {
	if strings.HasPrefix(cfg.AdvisoriesURL, "http://") || strings.HasPrefix(cfg.AdvisoriesURL, "https://") {
		return []string{pipeline.FuncAdvisories, pipeline.FuncSweep}
	}
	return []string{pipeline.FuncSweep}
}

// parseTimers reads --timers: timer function names, comma-separated.
func parseTimers(list string) ([]string, error) {
	var timers []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name != pipeline.FuncAdvisories && name != pipeline.FuncSweep {
			return nil, fmt.Errorf("%q is not a timer function (want %q or %q)", name, pipeline.FuncAdvisories, pipeline.FuncSweep)
		}
		timers = append(timers, name)
	}
	return timers, nil
}

// serveLocally creates h's tables and queues and serves h on a loopback port.
func serveLocally(ctx context.Context, h *pipelineHandler, log *slog.Logger) (*localHost, error) {
	if err := h.store.EnsureResources(ctx); err != nil {
		return nil, fmt.Errorf("creating tables and queues: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &localHost{base: "http://" + ln.Addr().String(), store: h.store, server: srv, log: log}, nil
}

func (r *localHost) close() {
	if r.front != nil {
		r.front.Close()
	}
	r.server.Close()
}

// drive fires the timers once and delivers queue messages until the queues are
// empty (visible and invisible) except for deferred tasks not yet visible, or ctx
// ends. Timers before the sweep run alone (the advisories sync must finish before
// scans load its generation); from the sweep on, the timers run while queue messages
// are delivered, up to r.parallel at once besides the timer, as the host runs a timer
// and its queue triggers side by side: the sweep sends list tasks page by page, and
// their listings need not wait for the whole catalog.
func (r *localHost) drive(ctx context.Context, retryDelay time.Duration) (runStats, error) {
	var st runStats
	timers := r.timers
	if len(timers) == 0 {
		timers = []string{pipeline.FuncSweep}
	}
	alone, overlapped := splitTimers(timers)
	for _, timer := range alone {
		if err := r.fire(ctx, timer, &st); err != nil {
			return st, err
		}
	}
	if len(overlapped) == 0 {
		return st, r.drain(ctx, retryDelay, &st, nil)
	}
	tctx, cancel := context.WithCancel(ctx)
	background := r.fireInBackground(tctx, overlapped, &st)
	err := r.drain(ctx, retryDelay, &st, background)
	cancel() // a failed delivery stops the timers
	<-background.done
	return st, err
}

// timerRun is timers firing in the background: done is closed once they returned,
// err then holding the first failure.
type timerRun struct {
	done chan struct{}
	err  error
}

// fireInBackground fires timers in order, stopping at the first failure.
func (r *localHost) fireInBackground(ctx context.Context, timers []string, st *runStats) *timerRun {
	run := &timerRun{done: make(chan struct{})}
	go func() {
		defer close(run.done)
		for _, timer := range timers {
			if run.err = r.fire(ctx, timer, st); run.err != nil {
				return
			}
		}
	}()
	return run
}

// splitTimers splits timers at the first sweep: those before it run alone, the
// sweep and those after it while queue messages are delivered.
func splitTimers(timers []string) (alone, overlapped []string) {
	i := slices.Index(timers, pipeline.FuncSweep)
	if i < 0 {
		return timers, nil
	}
	return timers[:i], timers[i:]
}

// fire calls one timer function and counts its invocation.
func (r *localHost) fire(ctx context.Context, timer string, st *runStats) error {
	started := time.Now()
	status, _, err := host.Call(ctx, r.base, timer,
		host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(timer, time.Now())))
	took := time.Since(started)
	r.count(func() {
		st.invocations++
		st.busy += took
		r.span(invocationSpan{timer, started, started.Add(took)})
		if err == nil && status == http.StatusOK {
			st.completed++
		}
	})
	if err != nil {
		return fmt.Errorf("calling %s: %w", timer, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d (see log)", timer, status)
	}
	return nil
}

// drain delivers queue messages until the queues are drained (see drive). While
// timers (nil: none) still run they may send more: the queues count as drained only
// once they finished, and their failure ends the drain.
func (r *localHost) drain(ctx context.Context, retryDelay time.Duration, st *runStats, timers *timerRun) error {
	queues := r.queues()
	var timersDone <-chan struct{} // nil (never ready) once no timer runs
	if timers != nil {
		timersDone = timers.done
	}
	for {
		delivered := 0
		for _, qf := range queues {
			n, err := r.deliver(ctx, qf.q, qf.function, retryDelay, st)
			if err != nil {
				return err
			}
			delivered += n
		}
		running := timersDone != nil
		select {
		case <-timersDone:
			if timers.err != nil {
				return timers.err
			}
			running, timersDone = false, nil
		default:
		}
		if delivered > 0 {
			continue
		}
		pending := 0
		for _, qf := range queues {
			n, err := qf.q.ApproximateCount(ctx)
			if err != nil {
				return fmt.Errorf("counting messages: %w", err)
			}
			pending += n
		}
		if !running && pending <= r.stillDeferred(time.Now()) {
			return nil
		}
		// Messages are invisible until their retry delay passes, and a running timer
		// may send more; poll like the host does.
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d messages still pending: %w", pending, ctx.Err())
		case <-timersDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// queueFunction is a queue and the function its trigger invokes.
type queueFunction struct {
	q        *store.Queue
	function string
}

// queues are the queue triggers of functions/*/function.json, in pipeline order.
// With --stop-before scan, scan-tasks is not delivered.
func (r *localHost) queues() []queueFunction {
	qs := []queueFunction{
		{r.store.RegistryEvents(), pipeline.FuncRegistryEventsQueue},
		{r.store.ListTasks(), pipeline.FuncListRepo},
	}
	if r.stopBefore != pipeline.FuncScan {
		qs = append(qs, queueFunction{r.store.ScanTasks(), pipeline.FuncScan})
	}
	return append(qs, queueFunction{r.store.RematchTasks(), pipeline.FuncRematch})
}

// maxReceive is the most messages one Get Messages call returns.
const maxReceive = 32

// deliver delivers q's visible messages to function, up to r.parallel at once, and
// returns how many it delivered. Like the host, it receives more as invocations finish
// rather than waiting for a whole batch, and returns once a receive finds nothing and
// the invocations it started have returned.
func (r *localHost) deliver(ctx context.Context, q *store.Queue, function string, retryDelay time.Duration, st *runStats) (int, error) {
	parallel := max(r.parallel, 1)
	var (
		wg        sync.WaitGroup
		slots     = make(chan struct{}, parallel)
		mu        sync.Mutex
		errs      []error
		delivered int
	)
	defer wg.Wait()
	for {
		slots <- struct{}{} // wait for a free slot; it is the first message's
		free := parallel - len(slots) + 1
		msgs, err := q.Receive(ctx, min(max(free, 1), maxReceive), 10*time.Minute)
		if err != nil {
			<-slots
			wg.Wait()
			return delivered, errors.Join(append(errs, fmt.Errorf("receiving from %s: %w", q.Name(), err))...)
		}
		if len(msgs) == 0 {
			<-slots
			wg.Wait()
			return delivered, errors.Join(errs...)
		}
		delivered += len(msgs)
		for i, m := range msgs {
			if i > 0 {
				slots <- struct{}{}
			}
			wg.Go(func() {
				defer func() { <-slots }()
				if err := r.invoke(ctx, q, function, m, retryDelay, st); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
}

// invoke delivers one message to function and settles it as the host does.
func (r *localHost) invoke(ctx context.Context, q *store.Queue, function string, m store.Message, retryDelay time.Duration, st *runStats) error {
	env := host.QueueEnvelope(host.QueueBinding, host.QueueTrigger{
		Text: m.Text, ID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: int(m.DequeueCount), InsertionTime: m.InsertedAt,
	}, host.NewSys(function, time.Now()), host.HostEncoding)
	started := time.Now()
	status, resp, err := host.Call(ctx, r.base, function, env)
	took := time.Since(started)
	r.count(func() {
		st.invocations++
		st.busy += took
		r.span(invocationSpan{function, started, started.Add(took)})
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Error("invoking function", "function", function, "error", err)
	}
	switch {
	case err == nil && status == http.StatusOK:
		r.count(func() {
			st.completed++
			if delay, ok := host.DeferredDelay(resp); ok {
				st.deferred++
				r.deferredUntil = append(r.deferredUntil, time.Now().Add(delay))
			}
		})
		if err := q.Delete(ctx, m); err != nil {
			return fmt.Errorf("deleting message %s: %w", m.ID, err)
		}
	case m.DequeueCount >= host.MaxDequeueCount:
		r.count(func() { st.poisoned++ })
		r.log.Error("moving message to poison queue", "function", function, "messageId", m.ID, "dequeueCount", m.DequeueCount)
		if err := q.MoveToPoison(ctx, m); err != nil {
			return fmt.Errorf("moving message %s to poison: %w", m.ID, err)
		}
	default:
		r.count(func() { st.retried++ })
		if err := q.Release(ctx, m, retryDelay); err != nil {
			return fmt.Errorf("releasing message %s: %w", m.ID, err)
		}
	}
	return nil
}

// count updates the stats or the deferred list under r.mu.
func (r *localHost) count(update func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	update()
}

// span keeps s when spans are kept; r.mu is held.
func (r *localHost) span(s invocationSpan) {
	if r.keepSpans {
		r.spans = append(r.spans, s)
	}
}

// invocationSpans returns a copy of when each invocation ran.
func (r *localHost) invocationSpans() []invocationSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invocationSpan(nil), r.spans...)
}

// stillDeferred is how many deferred tasks are not visible yet at now.
func (r *localHost) stillDeferred(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, at := range r.deferredUntil {
		if at.After(now) {
			n++
		}
	}
	return n
}

// printTransactions writes the storage transactions counted: a total per service,
// then one line per service, resource and method.
func printTransactions(w io.Writer, c *store.TransactionCounter) {
	by := c.ByService()
	fmt.Fprintf(w, "storage: %d transactions (table %d, queue %d, blob %d)\n",
		by[store.ServiceTable]+by[store.ServiceQueue]+by[store.ServiceBlob],
		by[store.ServiceTable], by[store.ServiceQueue], by[store.ServiceBlob])
	counts := c.Counts()
	for _, k := range c.Keys() {
		fmt.Fprintf(w, "storage: %s %s %s %d\n", k.Service, k.Resource, k.Method, counts[k])
	}
}

// enqueuedToday sums the scans today's runs enqueued (digests, however many tasks
// carried them); -1 when the runs cannot be read.
func enqueuedToday(ctx context.Context, st *store.Store) int {
	runs, err := st.ListRuns(ctx, time.Now())
	if err != nil {
		return -1
	}
	n := 0
	for _, run := range runs {
		n += run.Enqueued
	}
	return n
}
