// Package regevent decodes registry events into one vocabulary: distribution
// (docker-registry) notification envelopes and Harbor webhooks (default and
// CloudEvents formats), received over HTTP, and ACR Event Grid events
// (Microsoft.ContainerRegistry.ImagePushed/ImageDeleted, EventGridSchema or
// CloudEvents 1.0), received one per queue message. It validates what it decodes
// (digests, repository names, tags) and marks events Tidewatch does not act on
// (blob events, Helm charts, signatures) with the reason; it decides nothing else.
package regevent
