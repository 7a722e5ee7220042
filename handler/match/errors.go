package match

import "errors"

// ErrEcosystemNotLoaded reports a match request for an ecosystem that is empty,
// unsupported, or not covered by the advisory index. Matching against no data would
// report "no findings", which is never a safe answer.
var ErrEcosystemNotLoaded = errors.New("advisory ecosystem not loaded")

// ErrUnknownSeverity reports a severity name ParseSeverity does not know.
var ErrUnknownSeverity = errors.New("unknown severity")
