package serve

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// reqLog writes one line per request: time, method, path, status, bytes and
// duration. Lines are buffered and flushed within flushAfter, so that a
// burst of requests costs one write, not one per request.
type reqLog struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	pending bool
	closed  bool
	timer   *time.Timer
}

const flushAfter = 50 * time.Millisecond

func newReqLog(w io.Writer) *reqLog {
	l := &reqLog{bw: bufio.NewWriterSize(w, 16<<10)}
	l.timer = time.AfterFunc(time.Hour, l.flush)
	l.timer.Stop()
	return l
}

func (l *reqLog) request(r *http.Request, status int, n int64, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	var b [32]byte
	l.bw.Write(time.Now().AppendFormat(b[:0], "15:04:05"))
	l.bw.WriteByte(' ')
	l.bw.WriteString(r.Method)
	l.bw.WriteByte(' ')
	// Quoted when it holds control characters, which could rewrite the
	// terminal.
	uri := r.RequestURI
	if !printable(uri) {
		uri = strconv.Quote(uri)
	}
	l.bw.WriteString(uri)
	l.bw.WriteByte(' ')
	l.bw.Write(strconv.AppendInt(b[:0], int64(status), 10))
	l.bw.WriteByte(' ')
	l.bw.Write(strconv.AppendInt(b[:0], n, 10))
	l.bw.WriteString("B ")
	l.bw.Write(strconv.AppendFloat(b[:0], float64(d.Microseconds())/1000, 'f', 1, 64))
	l.bw.WriteString("ms\n")
	if !l.pending {
		l.pending = true
		l.timer.Reset(flushAfter)
	}
}

func (l *reqLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = false
	l.bw.Flush()
}

func (l *reqLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	l.closed = true
	l.bw.Flush()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// logWriter records the status and size of a response. It passes ReadFrom
// through so that sendfile still reaches the connection, and Unwrap so that
// http.ResponseController can flush.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

var logWriters = sync.Pool{New: func() any { return new(logWriter) }}

func getLogWriter(w http.ResponseWriter) *logWriter {
	lw := logWriters.Get().(*logWriter)
	*lw = logWriter{ResponseWriter: w}
	return lw
}

func putLogWriter(lw *logWriter) {
	lw.ResponseWriter = nil
	logWriters.Put(lw)
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *logWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
	w.bytes += n
	return n, err
}

func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
