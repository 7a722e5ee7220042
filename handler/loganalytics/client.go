package loganalytics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/query/azlogs"
)

// Pull is the pull activity of one digest of one repository over a window.
type Pull struct {
	Repository   string
	Digest       string
	LastPulledAt time.Time
	// Count is the number of pulls in the window (every manifest GET ACR logged).
	Count int64
}

// Result is a complete answer for one registry: every digest pulled in the window,
// and the rows that could not be used (an invalid repository or digest), which are
// left out and described in Rejected (at most maxRejectedListed, RejectedCount in all).
type Result struct {
	Pulls         []Pull
	Rejected      []string
	RejectedCount int
}

// Client queries one workspace. Build it once; it is safe for concurrent use.
type Client struct {
	logs         *azlogs.Client
	workspace    string
	ownUserAgent string
	timeout      time.Duration
}

// DefaultTimeout bounds one query, client and server side (the service's own default
// is three minutes).
const DefaultTimeout = 2 * time.Minute

type options struct {
	endpoint     string
	transport    policy.Transporter
	retry        *policy.RetryOptions
	timeout      time.Duration
	ownUserAgent string
}

// Option configures a Client.
type Option func(*options)

// WithEndpoint replaces the public cloud's query endpoint (https://api.loganalytics.io),
// e.g. with a test server's; the token audience stays the public cloud's.
func WithEndpoint(endpoint string) Option { return func(o *options) { o.endpoint = endpoint } }

// WithTransport sends requests through t (tests: an httptest TLS server's client).
func WithTransport(t policy.Transporter) Option { return func(o *options) { o.transport = t } }

// WithRetry replaces azcore's retry policy (408/429/5xx, Retry-After honoured).
func WithRetry(r policy.RetryOptions) Option { return func(o *options) { o.retry = &r } }

// WithTimeout bounds each query (default [DefaultTimeout]); the service is asked to
// give up at the same time.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithOwnUserAgent leaves out pulls whose User-Agent starts with prefix: Tidewatch's
// own ("tidewatch/"), which would otherwise keep every image it scans "pulled".
func WithOwnUserAgent(prefix string) Option { return func(o *options) { o.ownUserAgent = prefix } }

// publicAudience is the Log Analytics token audience in the public cloud.
const publicAudience = "https://api.loganalytics.io"

// New builds a client for workspaceID (the workspace's customer id, a GUID) that
// authenticates with cred.
func New(cred azcore.TokenCredential, workspaceID string, opts ...Option) (*Client, error) {
	if workspaceID == "" {
		return nil, errors.New("log analytics workspace id is empty")
	}
	o := options{endpoint: publicAudience, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	co := azlogs.ClientOptions{ClientOptions: azcore.ClientOptions{
		// A new map: cloud.AzurePublic.Services is shared by every client in the process.
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azlogs.ServiceName: {Audience: publicAudience, Endpoint: o.endpoint},
		}},
		Transport: o.transport,
	}}
	if o.retry != nil {
		co.Retry = *o.retry
	}
	logs, err := azlogs.NewClient(cred, &co)
	if err != nil {
		return nil, fmt.Errorf("building log analytics client: %w", err)
	}
	return &Client{logs: logs, workspace: workspaceID, ownUserAgent: o.ownUserAgent, timeout: o.timeout}, nil
}

// Pulls returns the pull activity of every digest of registryHost (its login server)
// from from to to. A partial result is an error wrapping [ErrPartial] and returns no
// pulls; see [IsPermanent] for which errors can be retried.
func (c *Client) Pulls(ctx context.Context, registryHost string, from, to time.Time) (Result, error) {
	query, err := pullQuery(registryHost, c.ownUserAgent)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	span := azlogs.NewTimeInterval(from.UTC(), to.UTC())
	wait := max(1, int(c.timeout/time.Second))
	resp, err := c.logs.QueryWorkspace(ctx, c.workspace, azlogs.QueryBody{Query: &query, Timespan: &span},
		&azlogs.QueryWorkspaceOptions{Options: &azlogs.QueryOptions{Wait: &wait}})
	if err != nil {
		return Result{}, fmt.Errorf("querying pulls of %s in log analytics workspace %s: %w", registryHost, c.workspace, describe(err))
	}
	if resp.Error != nil {
		return Result{}, fmt.Errorf("querying pulls of %s in log analytics workspace %s: %w: %s", registryHost, c.workspace, ErrPartial, resp.Error.Error())
	}
	res, err := readPulls(registryHost, resp.Tables)
	if err != nil {
		return Result{}, fmt.Errorf("reading pulls of %s from log analytics workspace %s: %w", registryHost, c.workspace, err)
	}
	return res, nil
}

// describe adds what a refusal usually means to the service's error.
func describe(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (does the app's identity have Log Analytics Reader on the workspace?)", err)
	}
	return err
}
