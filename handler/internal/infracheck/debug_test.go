package infracheck

import (
	"os"
	"testing"
)

func TestDebugDump(t *testing.T) {
	p := os.Getenv("DUMP")
	if p == "" {
		t.Skip()
	}
	f := readBicep(t, p)
	t.Log(f.root.ToSexp())
	for _, pr := range f.syntaxProblems() {
		t.Error(pr)
	}
}
