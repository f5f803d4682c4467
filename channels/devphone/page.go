package devphone

import (
	"embed"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations"
)

// Path is where the page is served; its form posts to Path+"/send".
const Path = "/dev/phone"

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

var page = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// maxText bounds an answer typed on the page: ten SMS segments and more.
const maxText = 1600

// Handler serves the page at Path, its refresh and its form. It answers
// only requests from this machine (a 404 for any other address), so that
// a server listening on every interface does not show its conversations
// to the network; and the form takes posts from the page alone (the
// standard library's cross-origin protection), so that another site open
// in the browser cannot text Tend as a patient.
func (p *Phone) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, p.page)
	mux.HandleFunc("GET "+Path+"/conversations", p.list)
	mux.HandleFunc("POST "+Path+"/send", p.answer)
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET "+Path+"/static/", http.StripPrefix(Path+"/static/", http.FileServerFS(static)))
	return localOnly(headers(http.NewCrossOriginProtection().Handler(mux)))
}

// localOnly refuses, as not found, a request that did not come from a
// loopback address.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headers keep the page's texts out of caches and run nothing but its
// own script.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// view is what the templates get: a copy taken under the lock.
type view struct {
	Version       uint64
	Enroll        string
	Conversations []conversationView
}

type conversationView struct {
	Channel, Address, PatientID string
	Messages                    []Message
}

func (p *Phone) view() view {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := view{Version: p.version, Enroll: p.Enroll}
	for _, c := range p.convs {
		cv := conversationView{Channel: c.Channel, Address: c.Address, PatientID: c.PatientID}
		for _, m := range c.Messages {
			cv.Messages = append(cv.Messages, *m)
		}
		v.Conversations = append(v.Conversations, cv)
	}
	return v
}

func (p *Phone) currentVersion() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

func (p *Phone) page(w http.ResponseWriter, r *http.Request) {
	p.render(w, "page", p.view())
}

// list serves the conversations alone, for the page's refresh: 204 while
// nothing changed since the version the page has.
func (p *Phone) list(w http.ResponseWriter, r *http.Request) {
	if after := r.URL.Query().Get("after"); after != "" && after == strconv.FormatUint(p.currentVersion(), 10) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	v := p.view()
	w.Header().Set("X-Dev-Phone-Version", strconv.FormatUint(v.Version, 10))
	p.render(w, "list", v)
}

func (p *Phone) render(w http.ResponseWriter, name string, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.ExecuteTemplate(w, name, v); err != nil {
		p.log().Error("dev phone: rendering the page", "err", err)
	}
}

// answer takes a text typed as the patient and runs it through Inbound,
// as if it had come from their phone. The page's script posts it and
// stays (204); a browser without the script is sent back to the page.
func (p *Phone) answer(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxText)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form did not parse", http.StatusBadRequest)
		return
	}
	phone, err := channels.E164(strings.TrimSpace(r.PostForm.Get("from")))
	if err != nil {
		http.Error(w, "Patient's phone: "+err.Error(), http.StatusBadRequest)
		return
	}
	text := r.PostForm.Get("text")
	switch {
	case strings.TrimSpace(text) == "":
		http.Error(w, "Text: write what the patient answers", http.StatusBadRequest)
		return
	case len(text) > maxText:
		http.Error(w, "Text: longer than "+strconv.Itoa(maxText)+" bytes", http.StatusBadRequest)
		return
	}
	m := p.add(conversations.SMS, phone, "", &Message{In: true, Text: text, At: p.now()})
	if err := p.Inbound.Receive(r.Context(), phone, text, newSID()); err != nil {
		p.mark(m, "not taken")
		http.Error(w, "Tend did not take it (the log says why); send it again", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("X-Dev-Phone") != "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, Path, http.StatusSeeOther)
}
