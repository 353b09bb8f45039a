package serve

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// cache keeps small files in memory with their response headers built, so
// that serving one costs a stat and a write. An entry is keyed by the file's
// name and is valid only while the file's size and modification time are
// what they were when it was read: an edit shows on the next request. When
// the cache would grow past its cap it is emptied and refills with what is
// asked for next; a dev server's working set is small.
type cache struct {
	mu      sync.RWMutex
	entries map[string]*entry
	bytes   int64
	max     int64
}

// entry is one cached file. The header slices are shared by every response
// and never modified.
type entry struct {
	mod  time.Time
	size int64 // size on disk (body may be larger: live-reload script)

	body []byte

	ctype, clen, lastMod, etag []string

	// gzip, built on first use for compressible types.
	gzOnce  sync.Once
	gz      []byte
	gzLen   []string
	gzETag  []string
	canGzip bool
}

func newCache(max int64) *cache {
	return &cache{entries: map[string]*entry{}, max: max}
}

// get returns the entry for name, reading the file through root when it is
// not cached or changed since. fi is the file's stat from the resolver.
func (c *cache) get(s *Server, name string, fi fs.FileInfo) (*entry, error) {
	c.mu.RLock()
	e := c.entries[name]
	c.mu.RUnlock()
	if e != nil && e.size == fi.Size() && e.mod.Equal(fi.ModTime()) {
		return e, nil
	}
	e, err := s.load(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if old := c.entries[name]; old != nil {
		c.bytes -= int64(len(old.body))
	}
	if c.bytes+int64(len(e.body)) > c.max {
		clear(c.entries)
		c.bytes = 0
	}
	c.entries[name] = e
	c.bytes += int64(len(e.body))
	c.mu.Unlock()
	return e, nil
}

// load reads one file into an entry, with the stat of the open file so that
// the key matches the content read.
func (s *Server) load(name string) (*entry, error) {
	f, fi, err := open(s.root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body := make([]byte, 0, fi.Size()+512)
	body, err = readAll(f, body)
	if err != nil {
		return nil, err
	}
	ctype := contentType(name, body)
	etag := makeETag(fi)
	if s.live != nil && isHTML(ctype) {
		body = injectLive(body)
		etag = etag[:len(etag)-1] + `-live"`
	}
	e := &entry{
		mod:     fi.ModTime(),
		size:    fi.Size(),
		body:    body,
		ctype:   []string{ctype},
		clen:    []string{strconv.Itoa(len(body))},
		lastMod: []string{fi.ModTime().UTC().Format(http.TimeFormat)},
		etag:    []string{etag},
		canGzip: compressible(ctype) && len(body) >= 256,
	}
	return e, nil
}

func readAll(f *os.File, b []byte) ([]byte, error) {
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// gzipped returns the gzip form of the body, or nil when it does not pay.
func (e *entry) gzipped() []byte {
	if !e.canGzip {
		return nil
	}
	e.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(e.body)
		zw.Close()
		if buf.Len() < len(e.body)*9/10 {
			e.gz = buf.Bytes()
			e.gzLen = []string{strconv.Itoa(len(e.gz))}
			tag := e.etag[0]
			e.gzETag = []string{tag[:len(tag)-1] + `-gz"`}
		}
	})
	return e.gz
}

// makeETag builds a strong validator from size and modification time, as
// nginx does: cheap, and it changes whenever the cache entry would.
func makeETag(fi fs.FileInfo) string {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 36)
	b = append(b, '"')
	return string(b)
}
