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
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	mac.Write(formBytes(form))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// formBytes is the signed form of the parameters: name and value of each,
// names sorted, a repeated name's values sorted.
func formBytes(form url.Values) []byte {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		vs := form[k]
		if len(vs) > 1 {
			vs = slices.Sorted(slices.Values(vs))
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, v...)
		}
	}
	return b
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
	want, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(want) != sha1.Size {
		return false
	}
	params := formBytes(form)
	mac := hmac.New(sha1.New, []byte(authToken))
	var sum [sha1.Size]byte
	ok := false
	for _, u := range variants(rawURL) {
		mac.Reset()
		mac.Write([]byte(u))
		mac.Write(params)
		// Every variant is computed, so that timing says nothing about
		// which one matched.
		if hmac.Equal(mac.Sum(sum[:0]), want) {
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
		if found && strings.ContainsAny(query, "%'!()*~") {
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
