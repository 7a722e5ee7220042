// Package pipeline implements the queue- and timer-triggered functions: sweep (fan out
// one list task per repository), listrepo (observe tags, decide what is due, enqueue
// scan tasks, or rematch tasks for digests whose stored inventories are current,
// deduped per digest per day), scan (scan one digest, write images, findings and
// resolutions), advisories (sync the advisory source into blob generations,
// feed.IsPermanent classifying its failures; a new generation enqueues the first
// rematch page) and rematch (re-match one page of stored inventories against the
// current index without a registry request, then enqueue the next page). Each function is a host.Func: nil means done, a
// host.Permanent error means failed-and-recorded (the message is dropped),
// host.Deferred means the task was re-enqueued with a registry's Retry-After delay
// (longer than the budget left), any other error is transient and the Functions host
// retries the message.
//
// A failure is permanent only when the edge that knows says so (image.ErrMalformed,
// registry.IsPermanent, store.IsPermanent); everything else, unrecognised errors and
// a spent budget included, is transient, and on the last delivery it is recorded
// before the message goes to the poison queue. Outcomes are recorded with a context
// detached from the invocation's (its budget may be what ran out) and a short
// deadline of their own.
//
// Every function is idempotent: the same message twice yields the same rows. Each
// invocation writes its own runs row keyed by its message id, so a redelivery
// replaces its counts instead of adding to them (see store.Store.RecordInvocation).
// Every row also names the advisory generation the invocation used and its age: a
// scan reads the generation's name together with its records (advisoriesInUse), so a
// generation switch mid-run never pairs one generation's name with another's data.
//
// The functions reach storage and registries through small interfaces defined here,
// one per concern (ports.go: tag view, images rows and columns, activity and claims,
// run log, inventory, layer and advisory blobs, task queues; a registry's catalog, tag source and
// image source). [New] serves them all from one *store.Store and one registry.Client
// per configured registry, so the rules (due-ness, failure classification, write
// order) are unit-tested over in-memory fakes while the integration tests keep
// running them against Azurite and docker-registry.
package pipeline
