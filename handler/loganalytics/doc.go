// Package loganalytics reads ACR pull activity from a Log Analytics workspace: the
// ContainerRegistryRepositoryEvents rows a registry's diagnostic setting sends there,
// summarised per (repository, digest) to the last pull time and the pull count over
// a window, without Tidewatch's own pulls. It talks to the Log Analytics query API
// through the Azure SDK's azlogs client with the credential it is given (the app's
// managed identity; the identity needs Log Analytics Reader on the workspace).
//
// A result the service marks partial (an "error" object next to the tables) is an
// error here, never a smaller complete answer: a caller that took it as complete
// would count too few pulls or miss digests that were pulled.
package loganalytics
