// Package store is Tidewatch's persistence on Azure Storage: the tables operators read
// in the portal (images, tags, findings, activity, runs, layers), the work queues
// (list-tasks, scan-tasks, registry-events, rematch-tasks and their poison queues) and
// the blob containers (advisories, inventories, layers).
//
// Entities are plain, typed columns marshalled explicitly to the Table service's JSON
// format (Edm.DateTime, Edm.Int64, Edm.Double annotations), never opaque blobs. Keys
// pass through [EscapeKey] because PartitionKey and RowKey cannot hold `/ \ # ?` or
// control characters. Read-modify-write paths (scan claims, run counters) and tag rows
// use ETag optimistic concurrency so concurrent invocations never lose an update.
//
// Store keeps finding and tag rows but decides nothing about them: states,
// resolution reasons and tag history are the rules of package lifecycle, and the
// conversion from match results to rows is the caller's.
package store
