// Package store is Tidewatch's persistence on Azure Storage: the tables operators read
// in the portal (images, tags, findings, activity, runs, layers), the work queues
// (list-tasks, scan-tasks, registry-events, rematch-tasks and their poison queues) and
// the blob containers (advisories, inventories, layers).
//
// Entities are plain, typed columns marshalled explicitly to the Table service's JSON
// format (Edm.DateTime, Edm.Int64, Edm.Double annotations), never opaque blobs. Keys
// pass through [EscapeKey] because PartitionKey and RowKey cannot hold `/ \ # ?` or
// control characters. Read-modify-write paths (tag rows, scan claims, run summaries)
// use ETag optimistic concurrency so concurrent invocations never lose an update; run
// counters are one row per invocation, so no row is hot under fan-out.
//
// Store keeps finding and tag rows but decides nothing about them: states,
// resolution reasons and tag history are the rules of package lifecycle, and the
// conversion from match results to rows is the caller's.
//
// [IsPermanent] classifies storage errors: only a request the service rejects as
// wrong (400, 411, 413) or a bad message is permanent; everything else is transient.
package store
