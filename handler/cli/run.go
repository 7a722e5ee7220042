package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
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
// one to /advisories when TIDEWATCH_ADVISORIES_URL is an http(s) URL), then it
// drains registry-events, list-tasks, scan-tasks and rematch-tasks by POSTing each
// message to /registryeventsqueue, /listrepo, /scan and /rematch with
// the host's envelopes, deleting on 200 and leaving the message for redelivery on any
// other status (poison after host.MaxDequeueCount), exactly as the queue trigger does.
// A task the handler deferred (re-enqueued with a registry's long Retry-After) is not
// waited for once only deferred tasks remain: it is counted and left queued. Messages
// on registry-events go to /registryeventsqueue the same way. With --http it also
// plays the host's HTTP front for /api/registryevents (function key checked as the
// host does, see triggerFront); with --watch it keeps delivering until interrupted.
func runPipeline(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	timeout := fs.Duration("timeout", 20*time.Minute, "give up when the queues are not drained by then (with --watch: stop then; no limit unless given)")
	retryDelay := fs.Duration("retry-delay", time.Second, "visibility delay before a failed message is redelivered")
	httpAddr := fs.String("http", "", "also serve HTTP triggers (POST /api/registryevents) on this address, e.g. 127.0.0.1:7071")
	keyFile := fs.String("function-key-file", "", "file holding the function key HTTP triggers require (x-functions-key header or code query parameter); required with --http")
	watch := fs.Bool("watch", false, "keep delivering queue messages (and serving --http) until interrupted instead of stopping when the queues are drained")
	if err := fs.Parse(args); err != nil {
		return exitUsage
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
	r, err := startLocalHost(ctx, cfg, env.Version, log)
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
	drive := r.drive
	if *watch {
		drive = r.watchAfterTimers
	}
	stats, err := drive(ctx, *retryDelay)
	fmt.Fprintf(env.Stdout, "run: %d invocations, %d completed, %d retried, %d deferred, %d moved to poison\n",
		stats.invocations, stats.completed, stats.retried, stats.deferred, stats.poisoned)
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
	// deferredUntil holds when each task the handler deferred becomes visible again.
	deferredUntil []time.Time
}

type runStats struct{ invocations, completed, retried, deferred, poisoned int }

func startLocalHost(ctx context.Context, cfg *config.Config, version string, log *slog.Logger, opts ...pipeline.Option) (*localHost, error) {
	h, err := newHandler(ctx, cfg, version, log, opts...)
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

// drive fires the timer once and then delivers queue messages until both queues are
// empty (visible and invisible) except for deferred tasks not yet visible, or ctx ends.
func (r *localHost) drive(ctx context.Context, retryDelay time.Duration) (runStats, error) {
	var st runStats
	timers := r.timers
	if len(timers) == 0 {
		timers = []string{pipeline.FuncSweep}
	}
	for _, timer := range timers {
		status, _, err := host.Call(ctx, r.base, timer,
			host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(timer, time.Now())))
		st.invocations++
		if err != nil {
			return st, fmt.Errorf("calling %s: %w", timer, err)
		}
		if status != http.StatusOK {
			return st, fmt.Errorf("%s answered HTTP %d (see log)", timer, status)
		}
		st.completed++
	}
	queues := r.queues()
	for {
		delivered := 0
		for _, qf := range queues {
			n, err := r.deliver(ctx, qf.q, qf.function, retryDelay, &st)
			if err != nil {
				return st, err
			}
			delivered += n
		}
		if delivered > 0 {
			continue
		}
		pending := 0
		for _, qf := range queues {
			n, err := qf.q.ApproximateCount(ctx)
			if err != nil {
				return st, fmt.Errorf("counting messages: %w", err)
			}
			pending += n
		}
		if pending <= r.stillDeferred(time.Now()) {
			return st, nil
		}
		// Messages are invisible until their retry delay passes; poll like the host does.
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("%d messages still pending: %w", pending, ctx.Err())
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
func (r *localHost) queues() []queueFunction {
	return []queueFunction{
		{r.store.RegistryEvents(), pipeline.FuncRegistryEventsQueue},
		{r.store.ListTasks(), pipeline.FuncListRepo},
		{r.store.ScanTasks(), pipeline.FuncScan},
		{r.store.RematchTasks(), pipeline.FuncRematch},
	}
}

// deliver receives a batch from q and invokes function for each message.
func (r *localHost) deliver(ctx context.Context, q *store.Queue, function string, retryDelay time.Duration, st *runStats) (int, error) {
	msgs, err := q.Receive(ctx, 16, 10*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("receiving from %s: %w", q.Name(), err)
	}
	for _, m := range msgs {
		env := host.QueueEnvelope(host.QueueBinding, host.QueueTrigger{
			Text: m.Text, ID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: int(m.DequeueCount), InsertionTime: m.InsertedAt,
		}, host.NewSys(function, time.Now()), host.HostEncoding)
		status, resp, err := host.Call(ctx, r.base, function, env)
		st.invocations++
		if err != nil && !errors.Is(err, context.Canceled) {
			r.log.Error("invoking function", "function", function, "error", err)
		}
		switch {
		case err == nil && status == http.StatusOK:
			st.completed++
			if delay, ok := host.DeferredDelay(resp); ok {
				st.deferred++
				r.deferredUntil = append(r.deferredUntil, time.Now().Add(delay))
			}
			if err := q.Delete(ctx, m); err != nil {
				return 0, fmt.Errorf("deleting message %s: %w", m.ID, err)
			}
		case m.DequeueCount >= host.MaxDequeueCount:
			st.poisoned++
			r.log.Error("moving message to poison queue", "function", function, "messageId", m.ID, "dequeueCount", m.DequeueCount)
			if err := q.MoveToPoison(ctx, m); err != nil {
				return 0, fmt.Errorf("moving message %s to poison: %w", m.ID, err)
			}
		default:
			st.retried++
			if err := q.Release(ctx, m, retryDelay); err != nil {
				return 0, fmt.Errorf("releasing message %s: %w", m.ID, err)
			}
		}
	}
	return len(msgs), nil
}

// stillDeferred is how many deferred tasks are not visible yet at now.
func (r *localHost) stillDeferred(now time.Time) int {
	n := 0
	for _, at := range r.deferredUntil {
		if at.After(now) {
			n++
		}
	}
	return n
}
