package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Config says how to reach the storage account: either a full ConnectionString
// (Azurite, local runs; `UseDevelopmentStorage=true` is not understood by the SDKs) or
// the three service URLs with a Credential (identity-based, in Azure).
type Config struct {
	ConnectionString string

	QueueServiceURL string
	TableServiceURL string
	BlobServiceURL  string
	Credential      azcore.TokenCredential
}

// Option configures [Open].
type Option func(*options)

type options struct {
	suffix   string
	policies []policy.Policy
	counter  *TransactionCounter
}

// WithNameSuffix appends suffix to every table, queue and container name, so that
// parallel tests sharing one account stay isolated. The suffix must be lowercase
// letters and digits (table names are alphanumeric only).
func WithNameSuffix(suffix string) Option {
	return func(o *options) { o.suffix = suffix }
}

// WithPerCallPolicy adds an HTTP pipeline policy to every client (request logging,
// test instrumentation).
func WithPerCallPolicy(p policy.Policy) Option {
	return func(o *options) { o.policies = append(o.policies, p) }
}

var validSuffix = regexp.MustCompile(`^[a-z0-9]*$`)

// Store holds the clients for one storage account. It is safe for concurrent use and
// meant to be built once and reused across invocations.
type Store struct {
	suffix string

	tables *aztables.ServiceClient
	queues *azqueue.ServiceClient
	blobs  *azblob.Client

	images, tags, findings, activity, runs, layers *aztables.Client

	listTasks, scanTasks, registryEvents, rematchTasks *Queue

	advisories, inventories, layerBlobs *Container

	refreshes runRefreshes // coalesced run-summary refreshes
	records   runRecords   // grouped invocation records
}

// NewCredential returns the user-assigned managed identity credential for clientID,
// or the system-assigned identity when clientID is empty.
func NewCredential(clientID string) (azcore.TokenCredential, error) {
	var opts azidentity.ManagedIdentityCredentialOptions
	if clientID != "" {
		opts.ID = azidentity.ClientID(clientID)
	}
	cred, err := azidentity.NewManagedIdentityCredential(&opts)
	if err != nil {
		return nil, fmt.Errorf("creating managed identity credential: %w", err)
	}
	return cred, nil
}

// Open builds the table, queue and blob clients for cfg. It does not contact the
// service; call [Store.EnsureResources] to create missing resources.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if !validSuffix.MatchString(o.suffix) {
		return nil, fmt.Errorf("opening store: name suffix %q must be lowercase letters and digits", o.suffix)
	}
	s := &Store{suffix: o.suffix}
	var err error
	switch {
	case cfg.ConnectionString != "":
		err = s.connectWithConnectionString(cfg.ConnectionString, o)
	case cfg.Credential != nil:
		err = s.connectWithCredential(cfg, o)
	default:
		err = errors.New("neither a connection string nor a credential is configured")
	}
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s.bind()
	return s, nil
}

// clientOptions are the SDK options of one service's client.
func (o options) clientOptions(service string) azcore.ClientOptions {
	client := azcore.ClientOptions{PerCallPolicies: o.policies}
	if o.counter != nil {
		client.PerRetryPolicies = []policy.Policy{o.counter.policy(service)}
	}
	return client
}

func (s *Store) connectWithConnectionString(cs string, o options) error {
	var err error
	if s.tables, err = aztables.NewServiceClientFromConnectionString(cs, &aztables.ClientOptions{ClientOptions: o.clientOptions(ServiceTable)}); err != nil {
		return fmt.Errorf("table client: %w", err)
	}
	if s.queues, err = azqueue.NewServiceClientFromConnectionString(cs, &azqueue.ClientOptions{ClientOptions: o.clientOptions(ServiceQueue)}); err != nil {
		return fmt.Errorf("queue client: %w", err)
	}
	if s.blobs, err = azblob.NewClientFromConnectionString(cs, &azblob.ClientOptions{ClientOptions: o.clientOptions(ServiceBlob)}); err != nil {
		return fmt.Errorf("blob client: %w", err)
	}
	return nil
}

func (s *Store) connectWithCredential(cfg Config, o options) error {
	if cfg.QueueServiceURL == "" || cfg.TableServiceURL == "" || cfg.BlobServiceURL == "" {
		return errors.New("identity-based storage needs the queue, table and blob service URLs")
	}
	var err error
	if s.tables, err = aztables.NewServiceClient(cfg.TableServiceURL, cfg.Credential, &aztables.ClientOptions{ClientOptions: o.clientOptions(ServiceTable)}); err != nil {
		return fmt.Errorf("table client for %s: %w", cfg.TableServiceURL, err)
	}
	if s.queues, err = azqueue.NewServiceClient(cfg.QueueServiceURL, cfg.Credential, &azqueue.ClientOptions{ClientOptions: o.clientOptions(ServiceQueue)}); err != nil {
		return fmt.Errorf("queue client for %s: %w", cfg.QueueServiceURL, err)
	}
	if s.blobs, err = azblob.NewClient(cfg.BlobServiceURL, cfg.Credential, &azblob.ClientOptions{ClientOptions: o.clientOptions(ServiceBlob)}); err != nil {
		return fmt.Errorf("blob client for %s: %w", cfg.BlobServiceURL, err)
	}
	return nil
}

// bind creates the per-resource clients once.
func (s *Store) bind() {
	table := func(name string) *aztables.Client { return s.tables.NewClient(s.name(name)) }
	s.images, s.tags, s.findings = table(TableImages), table(TableTags), table(TableFindings)
	s.activity, s.runs, s.layers = table(TableActivity), table(TableRuns), table(TableLayers)

	s.listTasks = s.newQueue(QueueListTasks)
	s.scanTasks = s.newQueue(QueueScanTasks)
	s.registryEvents = s.newQueue(QueueRegistryEvents)
	s.rematchTasks = s.newQueue(QueueRematchTasks)

	container := func(name string) *Container {
		actual := s.name(name)
		return &Container{name: actual, client: s.blobs.ServiceClient().NewContainerClient(actual)}
	}
	s.advisories, s.inventories, s.layerBlobs = container(ContainerAdvisories), container(ContainerInventories), container(ContainerLayers)
}

// name returns the actual name of a canonical resource name.
func (s *Store) name(canonical string) string { return canonical + s.suffix }

// ListTasks returns the list-tasks queue.
func (s *Store) ListTasks() *Queue { return s.listTasks }

// ScanTasks returns the scan-tasks queue.
func (s *Store) ScanTasks() *Queue { return s.scanTasks }

// RegistryEvents returns the registry-events queue (Event Grid ImagePushed).
func (s *Store) RegistryEvents() *Queue { return s.registryEvents }

// RematchTasks returns the rematch-tasks queue.
func (s *Store) RematchTasks() *Queue { return s.rematchTasks }

// Advisories returns the advisories blob container (compact indexes, current pointer).
func (s *Store) Advisories() *Container { return s.advisories }
