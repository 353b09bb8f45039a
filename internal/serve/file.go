package serve

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"
)

// Shared header values; never modified.
var (
	hdrNoCache = []string{"no-cache"}
	hdrVaryAE  = []string{"Accept-Encoding"}
	hdrGzip    = []string{"gzip"}
	hdrBr      = []string{"br"}
)

// maxInject bounds the HTML files that get the live-reload script: larger
// ones are sent as they are.
const maxInject = 8 << 20

// serveFile sends the regular file name (already resolved), from the cache
// when it is small, with sendfile otherwise.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string, fi fs.FileInfo) {
	h := w.Header()
	h["Cache-Control"] = hdrNoCache
	ae := r.Header["Accept-Encoding"]
	if len(ae) > 0 && r.Header["Range"] == nil && s.serveSibling(w, r, name, ae) {
		return
	}
	small := fi.Size() <= s.opts.SmallFile
	if !small && s.live != nil && fi.Size() <= maxInject && isHTML(typeByExt(name)) {
		small = true
	}
	if small {
		e, err := s.cache.get(s, name, fi)
		if err != nil {
			s.fail(w, err)
			return
		}
		serveEntry(w, r, e, ae)
		return
	}
	s.serveLarge(w, r, name, ae)
}

// serveEntry answers from a cache entry. The common cases (a plain GET, a
// revalidation that ends in 304) are answered here with the entry's ready
// headers; ranges and the rarer preconditions go to http.ServeContent.
func serveEntry(w http.ResponseWriter, r *http.Request, e *entry, ae []string) {
	h := w.Header()
	h["Content-Type"] = e.ctype
	h["Last-Modified"] = e.lastMod
	body, etag := e.body, e.etag
	var gz []byte
	if e.canGzip {
		varyAE(h)
		if acceptsEncoding(ae, "gzip") {
			gz = e.gzipped()
		}
	}
	if r.Header["Range"] != nil || r.Header["If-Match"] != nil || r.Header["If-Unmodified-Since"] != nil {
		// Ranges are served from the identity body.
		h["Etag"] = etag
		http.ServeContent(w, r, "", e.mod, bytes.NewReader(body))
		return
	}
	if gz != nil {
		body, etag = gz, e.gzETag
	}
	h["Etag"] = etag
	if notModified(r, etag[0], e.mod) {
		delete(h, "Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz != nil {
		h["Content-Encoding"] = hdrGzip
		h["Content-Length"] = e.gzLen
	} else {
		h["Content-Length"] = e.clen
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// serveLarge streams a file that is not cached: with sendfile (through
// http.ServeContent, which also does ranges and preconditions), or gzipped
// on the fly when it is text and the client takes gzip.
func (s *Server) serveLarge(w http.ResponseWriter, r *http.Request, name string, ae []string) {
	f, fi, err := open(s.root, name)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	ctype := typeByExt(name)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	etag := makeETag(fi)
	if compressible(ctype) {
		varyAE(h)
		if acceptsEncoding(ae, "gzip") && r.Header["Range"] == nil && r.Header["If-Match"] == nil && r.Header["If-Unmodified-Since"] == nil {
			etag = etag[:len(etag)-1] + `-gz"`
			h.Set("Etag", etag)
			h.Set("Last-Modified", fi.ModTime().UTC().Format(http.TimeFormat))
			if notModified(r, etag, fi.ModTime()) {
				delete(h, "Content-Type")
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h["Content-Encoding"] = hdrGzip
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodHead {
				return
			}
			zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
			io.Copy(zw, f)
			zw.Close()
			return
		}
	}
	h.Set("Etag", etag)
	if tc, ok := r.Context().Value(connKey{}).(*net.TCPConn); ok {
		cork(tc, true)
		defer cork(tc, false)
	}
	// *os.File under ServeContent's io.CopyN reaches the connection's
	// ReadFrom, which is sendfile(2) on Linux.
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// serveSibling serves a precompressed sibling (x.js.br, x.js.gz) of name
// when the client accepts its encoding, and reports whether it did. The
// sibling goes through the same resolver rules: it is name plus a suffix.
func (s *Server) serveSibling(w http.ResponseWriter, r *http.Request, name string, ae []string) bool {
	if s.live != nil && isHTML(typeByExt(name)) {
		return false // the page needs the live-reload script
	}
	for _, enc := range [...]struct {
		token, ext string
		hdr        []string
	}{{"br", ".br", hdrBr}, {"gzip", ".gz", hdrGzip}} {
		if !acceptsEncoding(ae, enc.token) {
			continue
		}
		f, fi, err := open(s.root, name+enc.ext)
		if err != nil {
			continue
		}
		h := w.Header()
		if ct := typeByExt(name); ct != "" {
			h.Set("Content-Type", ct)
		} else {
			h.Set("Content-Type", "application/octet-stream")
		}
		h["Content-Encoding"] = enc.hdr
		varyAE(h)
		h.Set("Etag", makeETag(fi))
		http.ServeContent(w, r, name, fi.ModTime(), f)
		f.Close()
		return true
	}
	return false
}

// varyAE adds Accept-Encoding to Vary, after whatever is there (Origin, with
// CORS), without touching the shared slices.
func varyAE(h http.Header) {
	v, ok := h["Vary"]
	if !ok {
		h["Vary"] = hdrVaryAE
		return
	}
	h["Vary"] = append(v[:len(v):len(v)], "Accept-Encoding")
}

// notModified evaluates If-None-Match, or If-Modified-Since when there is no
// If-None-Match (RFC 9110 section 13.2.2).
func notModified(r *http.Request, etag string, mod time.Time) bool {
	if inm := r.Header["If-None-Match"]; inm != nil {
		for _, v := range inm {
			for tag := range strings.SplitSeq(v, ",") {
				tag = strings.TrimSpace(tag)
				if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
					return true
				}
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !mod.Truncate(time.Second).After(t)
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header takes token, with a
// q-value above zero.
func acceptsEncoding(ae []string, token string) bool {
	for _, v := range ae {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), token) {
				continue
			}
			params = strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			if q, ok := strings.CutPrefix(params, "q="); ok && strings.Trim(q, "0.") == "" {
				return false
			}
			return true
		}
	}
	return false
}

// typeByExt is the Content-Type for name's extension, "" when unknown.
func typeByExt(name string) string {
	ext := path.Ext(name)
	if ext == "" {
		return ""
	}
	return mime.TypeByExtension(ext)
}

// contentType is the type for a cached file: by extension, else sniffed.
func contentType(name string, body []byte) string {
	if ct := typeByExt(name); ct != "" {
		return ct
	}
	return http.DetectContentType(body)
}

func isHTML(ctype string) bool { return strings.HasPrefix(ctype, "text/html") }

// compressible reports whether a type is text that gzip shrinks.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") ||
		strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") ||
		strings.Contains(ctype, "xml") ||
		strings.HasPrefix(ctype, "application/wasm")
}
