// Command oldgo is a Tidewatch test fixture: a Go binary built with an old
// toolchain (go1.22.0) that links an old, vulnerable golang.org/x/text.
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	t, err := language.Parse("en-US")
	fmt.Println(t, err)
}
