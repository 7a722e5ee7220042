// Package pipeline implements the queue- and timer-triggered functions: sweep (fan out
// one list task per repository), listrepo (observe tags, decide what is due, enqueue
// scan tasks deduped per digest per day) and scan (scan one digest, write images,
// findings and resolutions). Each function is a host.Func: nil means done, a
// host.Permanent error means failed-and-recorded (the message is dropped), any other
// error is transient and the Functions host retries the message.
//
// Every function is idempotent: the same message twice yields the same rows.
package pipeline
