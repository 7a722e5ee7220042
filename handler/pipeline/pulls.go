package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"golang.org/x/sync/errgroup"

	"github.com/tidewatch/tidewatch/handler/loganalytics"
	"github.com/tidewatch/tidewatch/handler/store"
)

// activitySourceLogAnalytics marks pull activity read from Log Analytics
// (ACR's ContainerRegistryRepositoryEvents).
const activitySourceLogAnalytics = "loganalytics"

// pullWriters bounds the concurrent activity writes of one registry's pulls.
const pullWriters = 8

// pullSource reads one registry's pull activity over a window (sweep).
type pullSource interface {
	Pulls(ctx context.Context, registryHost string, from, to time.Time) (loganalytics.Result, error)
}

// pullLog records windowed pull counts (sweep).
type pullLog interface {
	RecordPulls(ctx context.Context, obs store.Activity) error
}

var (
	_ pullSource = (*loganalytics.Client)(nil)
	_ pullLog    = (*store.Store)(nil)
)

// WithCredential replaces the app's managed identity for ACR registries and Log
// Analytics (tests: a static token).
func WithCredential(cred azcore.TokenCredential) Option {
	return func(p *Pipeline) { p.credential = cred }
}

// WithLogAnalyticsOptions adds options to the Log Analytics client (tests: endpoint,
// transport, timeout). The client exists only when TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID
// is set.
func WithLogAnalyticsOptions(opts ...loganalytics.Option) Option {
	return func(p *Pipeline) { p.logAnalyticsOpts = append(p.logAnalyticsOpts, opts...) }
}

// sweepPulls records the pulls of every digest of registryHost in the pull window
// ending at now, before the registry's list tasks are sent, so that listrepo judges
// due-ness with them. Without a workspace it does nothing. A failed or partial query
// writes nothing: the rows keep what the last complete answer said, and the next sweep
// asks again. It returns a description of the rows the answer had that it could not
// use ("" when none).
func (p *Pipeline) sweepPulls(ctx context.Context, log *slog.Logger, registryHost string, now time.Time) (string, error) {
	if p.pulls == nil {
		return "", nil
	}
	res, err := p.pulls.Pulls(ctx, registryHost, now.Add(-days(p.cfg.PullDays)), now)
	if err != nil {
		kind := "transient"
		if loganalytics.IsPermanent(err) {
			kind = "permanent"
		}
		return "", fmt.Errorf("reading pull activity (%s, nothing recorded; the next sweep asks again): %w", kind, err)
	}
	// Each row is its own read-modify-write; a few at a time keep a busy registry's
	// thousands of pulled digests from serialising the sweep.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pullWriters)
	for _, pull := range res.Pulls {
		obs := store.Activity{Registry: registryHost, Repository: pull.Repository, Digest: pull.Digest,
			LastPulledAt: pull.LastPulledAt, PullCount: pull.Count, PullsCountedAt: now, Source: activitySourceLogAnalytics}
		g.Go(func() error { return p.pullLog.RecordPulls(gctx, obs) })
	}
	if err := g.Wait(); err != nil {
		// Rows already written hold this sweep's counts; writing them again is harmless.
		return "", fmt.Errorf("recording pull activity of %d digests (the next sweep writes them again): %w", len(res.Pulls), err)
	}
	var rejected string
	if res.RejectedCount > 0 {
		rejected = fmt.Sprintf("pull activity of %s: %d rows left out: %s", registryHost, res.RejectedCount, strings.Join(res.Rejected, "; "))
		log.Warn("pull activity rows left out", "registry", registryHost, "rejected", res.RejectedCount, "examples", res.Rejected)
	}
	log.Info("recorded pull activity", "registry", registryHost, "digests", len(res.Pulls))
	return rejected, nil
}
