package runner

import (
	"testing"

	"github.com/tendcare/tend/channels"
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

// testChannels are the bundled channels' specs as the runner's own tests
// see them (the adapters, which export the real ones, import the runner).
var testChannels = channels.Specs{
	{Name: conversations.SMS, Segments: true, NamesMedicine: true},
	{Name: conversations.WhatsApp, Window: conversations.WindowLength, Buttons: true, NamesMedicine: true},
	{Name: conversations.Telegram, Address: channels.ByLink, Buttons: true, NamesMedicine: true},
	{Name: conversations.Voice, Synchronous: true},
}
