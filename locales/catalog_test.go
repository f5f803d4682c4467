package locales

import (
	"testing"
	"testing/fstest"
)

// Haitian Creole has no CLDR plural rule, so go-i18n refuses it unless Tend
// files it under a tag with a rule; the text must still be Haitian, never
// the default language's, and zh-Hans and zh-Hant must not swap.
func TestCatalogLanguagesWithoutPluralRule(t *testing.T) {
	fsys := fstest.MapFS{
		"c/en.yaml":      {Data: []byte("hours:\n  one: \"{{.N}} hour\"\n  other: \"{{.N}} hours\"\nhi: \"Hello\"\n")},
		"c/ht.yaml":      {Data: []byte("hours:\n  one: \"{{.N}} èdtan\"\n  other: \"{{.N}} èdtan yo\"\nhi: \"Bonjou\"\n")},
		"c/zh-Hans.yaml": {Data: []byte("hours: \"{{.N}} 小时\"\nhi: \"你好\"\n")},
		"c/zh-Hant.yaml": {Data: []byte("hours: \"{{.N}} 小時\"\nhi: \"你好\"\n")},
	}
	c, errs := LoadCatalog(fsys, "c", "en")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		lang, id string
		n        int
		want     string
	}{
		{"ht", "hours", 1, "1 èdtan"},
		{"ht", "hours", 3, "3 èdtan yo"},
		{"ht", "hi", 0, "Bonjou"},
		{"zh-Hans", "hours", 2, "2 小时"},
		{"zh-Hant", "hours", 2, "2 小時"},
	} {
		var count any
		if tc.id == "hours" {
			count = tc.n
		}
		got, err := c.Text(tc.lang, tc.id, map[string]any{"N": tc.n}, count)
		if err != nil || got != tc.want {
			t.Errorf("Text(%s, %s, %d) = %q, %v; want %q", tc.lang, tc.id, tc.n, got, err, tc.want)
		}
	}
}
