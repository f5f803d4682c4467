package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Signature is the X-Twilio-Signature of a request to rawURL (as Twilio
// requested it, query included) with form parameters: the base64 HMAC-SHA1,
// keyed with the auth token, of the URL followed by each parameter's name
// and value with no separators, names sorted and, for a name sent more than
// once, every value, sorted.
func Signature(authToken, rawURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range slices.Sorted(slices.Values(form[k])) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether signature is Twilio's for a request to
// rawURL with form. Twilio signs the URL as it was configured, which may
// differ from the one the request arrived on in ways that do not change
// the request: the scheme's default port written or left out, and
// characters Twilio leaves unescaped in the query (' ! ( ) * ~) that a
// proxy or client escaped, or the other way round. Each of these forms is
// tried; the comparison is constant-time. An empty token or signature is
// never valid.
func ValidSignature(authToken, signature, rawURL string, form url.Values) bool {
	if authToken == "" || signature == "" {
		return false
	}
	ok := false
	for _, u := range variants(rawURL) {
		// Every variant is computed, so that timing says nothing about
		// which one matched.
		if hmac.Equal([]byte(Signature(authToken, u, form)), []byte(signature)) {
			ok = true
		}
	}
	return ok
}

// unescaped are the characters Twilio does not percent-encode in a query.
var unescaped = strings.NewReplacer("%27", "'", "%21", "!", "%28", "(", "%29", ")", "%2A", "*", "%2a", "*", "%7E", "~", "%7e", "~")

var escaped = strings.NewReplacer("'", "%27", "!", "%21", "(", "%28", ")", "%29", "*", "%2A", "~", "%7E")

// variants are the forms of rawURL Twilio may have signed: as given, with
// and without the default port, each with its query as given, unescaped
// and escaped.
func variants(rawURL string) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, u := range []string{rawURL, withPort(rawURL, true), withPort(rawURL, false)} {
		base, query, found := strings.Cut(u, "?")
		add(u)
		if found {
			add(base + "?" + unescaped.Replace(query))
			add(base + "?" + escaped.Replace(unescaped.Replace(query)))
		}
	}
	return out
}

// withPort writes the scheme's default port into rawURL's host (on) or
// takes any port out (off). The rest of the URL (user info, path, query)
// stays byte for byte: it is what was signed.
func withPort(rawURL string, on bool) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	host, port := authority, ""
	if c := strings.LastIndex(authority, ":"); c >= 0 && !strings.Contains(authority[c:], "]") {
		host, port = authority[:c], authority[c+1:]
	}
	switch {
	case !on:
		port = ""
	case port != "":
		return rawURL
	case strings.EqualFold(scheme, "http"):
		port = "80"
	default:
		port = "443"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + userinfo + host + tail
}
