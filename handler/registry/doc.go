// Package registry talks to OCI distribution registries: listing repositories and
// tags, resolving references to manifests, and handing the image package a
// v1.Image or v1.ImageIndex whose blobs stream from the registry.
//
// A Client is built once per registry host (New) and is safe for concurrent use.
// Every request it sends carries a User-Agent starting with "tidewatch/", which is
// how activity tracking recognises and ignores Tidewatch's own pulls.
//
// # Azure Container Registry
//
// For ACR the Client also speaks ACR's own data plane (/acr/v1, acrlist.go):
// ACRRepositories, ACRRepositoryAttributes (a repository's lastUpdateTime) and
// ACRManifests (every manifest with its tags, createdTime/lastUpdateTime and an
// index's child platforms, in one paged call). Their access tokens
// (registry:catalog:*, repository:<name>:metadata_read) are kept per scope and
// refreshed when the registry answers 401.
//
// # Faults
//
// Faults are classified once, here. IsTransient reports whether an error is worth
// retrying (429, 408, 5xx, connection resets and refusals, timeouts, a body cut off
// mid-stream, an exhausted time budget): Retry repeats only those. IsPermanent
// reports what no retry can fix — 400/401/403 after authentication, 404
// MANIFEST_UNKNOWN/NAME_UNKNOWN, a digest mismatch. An error that is neither is not
// retried here but is not permanent either: the pipeline treats it as transient and
// lets the host retry the task. RetryAfter exposes the wait a registry asked for.
// Client methods return *Error, which names the operation and the reference.
//
// go-containerregistry retries each request itself (three tries, 1 s and 3 s apart,
// sleeping without looking at the context) and ignores Retry-After. The Client turns
// that off and retries whole operations with Retry instead: jittered exponential
// back-off that honours Retry-After and never sleeps past the context deadline.
// When the remaining budget cannot cover the next wait, Retry returns an error
// matching ErrBudgetExhausted, which IsTransient reports as transient, so the
// caller can hand the task back to its queue (HTTP 500) instead of recording a
// failure.
//
// # Retrying a blob stream
//
// Listing, Resolve and Target (the manifest, each child manifest of an index, each
// image config) are retried inside the Client. Reading a layer is not:
// the bytes are consumed by the caller, so the caller retries the whole stream,
// from the first byte, around its own processing:
//
//	err := registry.Retry(ctx, policy, func(ctx context.Context) error {
//		return analyzeLayer(ctx, layer)
//	})
//
// For that to work, errors from reading a blob body must keep their %w chain
// (fmt.Errorf("reading layer %s: %w", digest, err)) so that IsTransient can still
// see io.ErrUnexpectedEOF or a connection reset underneath.
package registry
