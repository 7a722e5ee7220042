// Package lifecycle owns the findings lifecycle: the states a finding row can be in,
// why it was resolved, and the rules that move it. It is the only place those
// decisions are made; package store only keeps the rows and pipeline only says what
// happened (a scan result, a tag listing).
//
// A finding is identified by (registry, repository, platform digest, vulnerability,
// ecosystem, package, location). It is [StateActive] while it is in the latest result
// for its (repository, digest) and [StateResolved] with a reason and a time once it
// is not: [ReasonRescan] (gone on a rescan of the same digest), [ReasonAdvisory] (gone
// on a rematch with changed advisories; ResolvedByGeneration names the generation), [ReasonFixed] (the tag that last referenced
// the digest moved to a digest without it; ResolvedByDigest names that digest),
// [ReasonUntracked] (no tag references the digest, and the finding lives on in the
// digest that replaced it, or its platform was dropped) and [ReasonDeleted] (the tag
// or manifest was deleted). A resolved finding seen again is reactivated, and so are
// the findings untagging resolved when the digest is tagged again.
//
// After every change to a (repository, digest)'s findings the images row's counts
// are set to the counts of its active rows.
package lifecycle
