package serve

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listEntry is one row of a directory listing; its JSON names are stable.
type listEntry struct {
	Name     string    `json:"name"`
	Dir      bool      `json:"dir"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	URL      string    `json:"url"`
}

// serveListing lists the folder name (already resolved): JSON for clients
// that ask for application/json, HTML otherwise. Dotfiles are left out
// unless they are served, and so are entries that do not resolve inside the
// root (a symlink pointing outside), so the listing never shows a link that
// would 404.
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request, name string) {
	d, err := s.root.Open(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		s.fail(w, err)
		return
	}
	list := make([]listEntry, 0, len(des))
	for _, de := range des {
		n := de.Name()
		if !s.opts.Dotfiles && strings.HasPrefix(n, ".") {
			continue
		}
		// Through the same resolver as a request for the entry would go.
		_, fi, err := resolve(s.root, "/"+path.Join(name, n), s.opts.Dotfiles)
		if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
			continue
		}
		e := listEntry{Name: n, Dir: fi.IsDir(), Modified: fi.ModTime().UTC(), URL: (&url.URL{Path: n}).EscapedPath()}
		if strings.Contains(n, ":") {
			e.URL = "./" + e.URL // "a:b" would read as a URL scheme
		}
		if e.Dir {
			e.URL += "/"
		} else {
			e.Size = fi.Size()
		}
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b listEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})

	h := w.Header()
	h["Cache-Control"] = hdrNoCache
	h.Add("Vary", "Accept")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		if r.Method != http.MethodHead {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(list)
		}
		return
	}
	var buf bytes.Buffer
	dir := r.URL.Path
	writeListing(&buf, dir, dir != "/", list)
	body := buf.Bytes()
	if s.live != nil {
		body = injectLive(body)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "application/json") {
			return true
		}
	}
	return false
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + string("KMGTPE"[exp]) + "iB"
}

// writeListing writes the HTML listing of dir. It escapes by hand rather
// than with html/template: linking html/template costs every homeport
// command its package initialisation (0.1 ms and 18 KB of heap before
// main), and the page is a title and a table. Entry URLs are path-escaped
// relative references (serveListing), so HTML escaping is all they need.
func writeListing(w io.Writer, dir string, parent bool, entries []listEntry) {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of ` + esc(dir) + `</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.1rem;font-weight:600}
table{border-collapse:collapse;width:100%}
td{padding:.2rem .6rem;border-bottom:1px solid #eee;white-space:nowrap}
td.n{width:100%}
td.s,td.t{text-align:right;color:#666;font-variant-numeric:tabular-nums}
a{text-decoration:none;color:#0645ad}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}td{border-color:#333}a{color:#8ab4f8}}
</style></head>
<body>
<h1>Index of ` + esc(dir) + `</h1>
<table>
`)
	if parent {
		b.WriteString(`<tr><td class="n"><a href="../">../</a></td><td class="s"></td><td class="t"></td></tr>
`)
	}
	for _, e := range entries {
		b.WriteString(`<tr><td class="n"><a href="` + esc(e.URL) + `">` + esc(e.Name))
		size := ""
		if e.Dir {
			b.WriteString("/")
		} else {
			size = humanSize(e.Size)
		}
		b.WriteString(`</a></td><td class="s">` + esc(size) + `</td><td class="t">` +
			e.Modified.Local().Format("2006-01-02 15:04") + "</td></tr>\n")
	}
	b.WriteString("</table>\n</body></html>\n")
	io.WriteString(w, b.String())
}
