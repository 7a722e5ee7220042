package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// runServe is what the Functions host starts (host.json: arguments ["serve"]).
func runServe(ctx context.Context, env Env, args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(env.Stderr, "usage: tidewatch serve (configured by environment; see README)")
		return exitUsage
	}
	cfg, err := config.Load(env.Environ)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch serve: %v\n", err)
		return exitError
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	h, err := newHandler(ctx, cfg, env.Version, log)
	if err != nil {
		log.Error("starting handler", "error", err)
		return exitError
	}
	if err := cfg.RequireRegistries(); err != nil {
		log.Error("starting handler", "error", err)
		return exitError
	}
	addr, err := host.Addr(env.getenv)
	if err != nil {
		log.Error("starting handler", "error", err)
		return exitError
	}
	log.Info("serving custom handler", "addr", addr, "version", env.Version, "config", cfg)
	if err := host.ListenAndServe(ctx, addr, h); err != nil {
		log.Error("serving", "error", err)
		return exitError
	}
	return exitOK
}

// newHandler wires configuration, storage and the pipeline into the host protocol.
// It does no network I/O, so the handler answers the host's readiness probe at once.
func newHandler(ctx context.Context, cfg *config.Config, version string, log *slog.Logger, opts ...pipeline.Option) (*pipelineHandler, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return handlerFor(cfg, st, version, log, opts...)
}

// handlerFor wires an opened store and the pipeline into the host protocol (tests
// pass a store isolated by a name suffix).
func handlerFor(cfg *config.Config, st *store.Store, version string, log *slog.Logger, opts ...pipeline.Option) (*pipelineHandler, error) {
	p, err := pipeline.New(cfg, st, version, opts...)
	if err != nil {
		return nil, err
	}
	return &pipelineHandler{Handler: host.NewServer(log, p.Functions(), host.WithBudget(cfg.ScanBudget), host.WithHTTPFunctions(p.HTTPFunctions())), store: st}, nil
}

func openStore(ctx context.Context, cfg *config.Config, opts ...store.Option) (*store.Store, error) {
	sc := store.Config{
		ConnectionString: cfg.Storage.ConnectionString.Reveal(),
		QueueServiceURL:  cfg.Storage.QueueServiceURL,
		TableServiceURL:  cfg.Storage.TableServiceURL,
		BlobServiceURL:   cfg.Storage.BlobServiceURL,
	}
	if cfg.Storage.UsesIdentity() {
		cred, err := store.NewCredential(cfg.Storage.ClientID)
		if err != nil {
			return nil, fmt.Errorf("creating managed identity credential: %w", err)
		}
		sc.Credential = cred
	}
	st, err := store.Open(ctx, sc, opts...)
	if err != nil {
		return nil, fmt.Errorf("opening storage: %w", err)
	}
	return st, nil
}
