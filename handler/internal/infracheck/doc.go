// Package infracheck holds the offline checks that stand in for the Bicep compiler and
// for a real deployment: every file under infra/ is parsed with the tree-sitter Bicep
// grammar, every resource body is checked against Azure's generated type definitions
// (../shared/azure-types), and the names the templates use (app settings, queues, tables,
// containers, roles) are checked against the Go code, DESIGN.md and the Functions
// metadata. It also checks the package that scripts/package.sh builds.
//
// The package has no non-test code: its tree-sitter dependency needs cgo, which only
// `go test` of this package pays for.
package infracheck
