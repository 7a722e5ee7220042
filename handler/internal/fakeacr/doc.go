// Package fakeacr is an Azure Container Registry data plane built from
// ../shared/azure-specs/acr-dataplane, for tests (testenv.StartACR) and for the scale
// benchmark (cmd/fakeacr in front of a real docker-registry): the token exchange of
// AAD-OAuth.md, every other endpoint behind a Bearer challenge naming its scope, the
// /acr/v1 listing API of containerregistry.json (_catalog, repository attributes,
// _manifests with n/last/orderby and Link paging), and /v2/ proxied to a real
// registry. What it lists comes from a Source: Memory (set by a test) or Storage (a
// docker-registry's filesystem, whose link files' modification times are the pushes).
package fakeacr
