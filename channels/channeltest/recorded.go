package channeltest

import (
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/tendcare/tend/content"
)

// Recorded is what a clinic adds to the bundled pack to record lang: the
// bundled channels.yaml with voice.LANG.audio set to the folder audio/LANG,
// and a file for every recording but leaveOut. Each file holds a few bytes
// naming itself, enough for a test to see which was fetched.
func Recorded(tb testing.TB, lang string, leaveOut ...string) fstest.MapFS {
	tb.Helper()
	b, err := fs.ReadFile(content.Default(), content.ChannelsFile)
	if err != nil {
		tb.Fatal(err)
	}
	// The voice: map ends the bundled file.
	top := fstest.MapFS{content.ChannelsFile: {Data: append(b, "  "+lang+": {audio: audio/"+lang+"}\n"...)}}
	bare, _, err := content.Load(content.Overlay(top, content.Default()))
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range bare.Audio[lang].Recordings() {
		if !slices.Contains(leaveOut, r.Name) {
			top["audio/"+lang+"/"+r.Name] = &fstest.MapFile{Data: []byte("ID3 " + r.Name)}
		}
	}
	return top
}

// RecordedPack is the bundled pack with Recorded(lang, leaveOut...) over it.
func RecordedPack(tb testing.TB, lang string, leaveOut ...string) *content.Pack {
	tb.Helper()
	p, _, err := content.Load(content.Overlay(Recorded(tb, lang, leaveOut...), content.Default()))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
