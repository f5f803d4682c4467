package telegram_test

import (
	"testing"

	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
)

// The server asks the bot's username with getMe when it is not configured;
// the library sends that call as an empty multipart body.
func TestGetMe(t *testing.T) {
	t.Parallel()
	fake := telegramtest.New(t)
	b, err := telegram.NewBot(fake.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	me, err := b.GetMe(t.Context())
	if err != nil || me.Username == "" {
		t.Fatalf("getMe: %+v %v", me, err)
	}
}
