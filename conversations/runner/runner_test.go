package runner

import (
	"testing"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
)

// testEngine is the engine on the bundled content pack.
func testEngine(t testing.TB) *conversations.Engine {
	t.Helper()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	e, err := conversations.NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
