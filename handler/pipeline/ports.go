package pipeline

import (
	"context"
	"time"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// The pipeline's view of storage and registries: one small interface per concern,
// each the methods a function here calls. [New] fills every one from a single
// *store.Store and one *registry.Client per registry; unit tests use in-memory fakes.

// tagView is a repository's stored tag → digest view (listrepo reconciles it with a
// listing; scan reads it to resolve replaced digests).
type tagView interface {
	ListTags(ctx context.Context, registry, repository string) ([]store.Tag, error)
	PutTags(ctx context.Context, registry, repository string, tags []store.Tag) error
}

// imageRows are the images rows of a repository, read and written whole.
type imageRows interface {
	ListImages(ctx context.Context, registry, repository string) ([]store.Image, error)
	ImagesOf(ctx context.Context, registry, repository, digest string) ([]store.Image, error)
	PutImage(ctx context.Context, img store.Image) error
	DeleteImage(ctx context.Context, registry, repository, digest string) error
}

// imageColumns updates columns of existing images rows and leaves the rest alone.
type imageColumns interface {
	SetImageTags(ctx context.Context, registry, repository string, tags map[string][]string) error
	SetImageError(ctx context.Context, registry, repository string, digests []string, cause string, at time.Time) error
}

// activityLog is the per-digest push/pull activity and the day's scan claim.
type activityLog interface {
	GetActivity(ctx context.Context, registry, repository, digest string) (store.Activity, error)
	RecordActivity(ctx context.Context, obs store.Activity, pulls int64) error
	ClaimScanAs(ctx context.Context, registry, repository, digest string, day time.Time, claimant string) (bool, error)
	ListActivityRows(ctx context.Context, registry, repository string) ([]store.ActivityRow, error)
	PutActivities(ctx context.Context, registry, repository string, acts []store.ActivityRow) ([]string, error)
}

// repositoryLog is what the sweep remembers of each repository as a whole (the
// registry's last-update time its last completed listing saw).
type repositoryLog interface {
	ListRepositoryActivity(ctx context.Context, registry string) ([]store.RepositoryActivity, error)
	RepositoriesWithActivity(ctx context.Context, registry string) (map[string]bool, error)
	PutRepositoryActivity(ctx context.Context, a store.RepositoryActivity) error
}

// runLog records each invocation's contribution to its run.
type runLog interface {
	RecordInvocation(ctx context.Context, date, runID, invocation string, d store.RunDelta) error
	// GetInvocation reads what an invocation recorded (store.ErrNotFound: nothing).
	GetInvocation(ctx context.Context, date, runID, invocation string) (store.RunDelta, error)
}

// inventoryBlobs keeps a platform's inventory and returns its reference (scan), and
// reads it back (rematch).
type inventoryBlobs interface {
	PutInventory(ctx context.Context, platformDigest string, data []byte) (string, error)
	GetInventory(ctx context.Context, ref string) ([]byte, error)
}

// imagePages pages through the whole images table in key order (rematch).
type imagePages interface {
	ListImagesAfter(ctx context.Context, after store.ImageCursor, limit int) ([]store.Image, store.ImageCursor, bool, error)
}

// layerBlobs holds encoded per-layer results (see storeLayerCache).
type layerBlobs interface {
	GetLayer(ctx context.Context, diffID, analyzer string) ([]byte, error)
	PutLayer(ctx context.Context, diffID, analyzer string, data []byte, opts ...store.LayerOption) error
}

// taskQueue is a queue tasks are sent to, now or after a delay.
type taskQueue interface {
	Send(ctx context.Context, text []byte) error
	SendAfter(ctx context.Context, text []byte, delay time.Duration) error
}

// stores is everything the pipeline keeps in storage.
type stores struct {
	tags         tagView
	images       imageRows
	imagePages   imagePages
	imageColumns imageColumns
	activity     activityLog
	repositories repositoryLog
	runs         runLog
	inventories  inventoryBlobs
	layers       layerBlobs
	findingStore lifecycle.Store
	listTasks    taskQueue
	scanTasks    taskQueue
	rematchTasks taskQueue
	// advisoryBlobs holds the advisory generations and current.json.
	advisoryBlobs feed.Blobs
}

// storesOf is every concern served by the one store st.
func storesOf(st *store.Store) stores {
	return stores{
		tags: st, images: st, imagePages: st, imageColumns: st, activity: st, repositories: st, runs: st,
		inventories: st, layers: st, findingStore: st,
		listTasks: st.ListTasks(), scanTasks: st.ScanTasks(), rematchTasks: st.RematchTasks(),
		advisoryBlobs: feed.NewContainerBlobs(st.Advisories().Client()),
	}
}

var (
	_ tagView        = (*store.Store)(nil)
	_ imageRows      = (*store.Store)(nil)
	_ imagePages     = (*store.Store)(nil)
	_ imageColumns   = (*store.Store)(nil)
	_ activityLog    = (*store.Store)(nil)
	_ repositoryLog  = (*store.Store)(nil)
	_ runLog         = (*store.Store)(nil)
	_ inventoryBlobs = (*store.Store)(nil)
	_ layerBlobs     = (*store.Store)(nil)
	_ taskQueue      = (*store.Queue)(nil)
)

// catalog hands a registry's repositories over page by page as its catalog is walked
// (sweep), so list tasks go out while the registry is still walking.
type catalog interface {
	RepositoryPages(ctx context.Context, page func(ctx context.Context, repos []string) error) error
}

// tagSource lists a repository's tags and resolves each to its manifest (listrepo).
type tagSource interface {
	Tags(ctx context.Context, repo string) ([]string, error)
	Resolve(ctx context.Context, repo, tagOrDigest string) (registry.Manifest, error)
}

// imageSource fetches what a scan reads, under the registry's retry policy (scan).
type imageSource interface {
	Target(ctx context.Context, ref string) (*image.Target, error)
	Retry(ctx context.Context, op func(ctx context.Context) error) error
}

// registryClient is one configured registry as the three functions use it.
type registryClient interface {
	catalog
	tagSource
	imageSource
}

// acrListing is Azure Container Registry's own data-plane listing, used instead of
// the distribution API for registries with auth acr (sweep and listrepo).
type acrListing interface {
	ACRRepositories(ctx context.Context) ([]string, error)
	ACRRepositoryAttributes(ctx context.Context, repo string) (registry.ACRRepository, error)
	ACRManifests(ctx context.Context, repo string) ([]registry.ACRManifest, error)
}

var (
	_ registryClient = (*registry.Client)(nil)
	_ acrListing     = (*registry.Client)(nil)
)
