package ports

import "testing"

func TestHostRejection(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
		said   bool
	}{
		{403, "Invalid Host header", true, true},
		{200, `Blocked request. This host ("x.test") is not allowed.`, true, true},
		{400, "DisallowedHost at /", true, true},
		{421, "", true, false},
		{403, "forbidden", true, false},
		{200, "hello", false, false},
		{404, "not found", false, false},
	}
	for _, tt := range tests {
		reason, said := HostRejection(tt.status, tt.body)
		if reason != "" != tt.want || said != tt.said {
			t.Errorf("HostRejection(%d, %q) = %q, %v; want rejection %v, said %v", tt.status, tt.body, reason, said, tt.want, tt.said)
		}
	}
}

func TestSchemeComplaint(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{400, "Client sent an HTTP request to an HTTPS server.\n", true},
		{400, "<html><center>The plain HTTP request was sent to HTTPS port</center>", true},
		{200, "Client sent an HTTP request to an HTTPS server.", false},
		{400, "bad request", false},
	}
	for _, tt := range tests {
		if got := SchemeComplaint(tt.status, tt.body); got != tt.want {
			t.Errorf("SchemeComplaint(%d, %q) = %v; want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestFirstBytesSpeak(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"nothing", "", ""},
		{"HTTP response", "HTTP/1.1 400 Bad Request\r\n", SpeaksHTTP},
		{"HTTP cut short", "HTT", SpeaksHTTP},
		{"TLS alert", "\x15\x03\x01\x00\x02\x02\x46", SpeaksTLS},
		{"TLS handshake", "\x16\x03\x03\x00\x7a", SpeaksTLS},
		{"one TLS byte", "\x15", SpeaksTLS},
		{"Redis error", "-ERR wrong number of arguments for 'get' command\r\n", SpeaksOther},
		{"SSH banner", "SSH-2.0-OpenSSH_9.2p1\r\n", SpeaksOther},
		{"0x15 without version", "\x15\x01", SpeaksOther},
		{"lower-case http", "http/1.1 200", SpeaksOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstBytesSpeak([]byte(tt.in)); got != tt.want {
				t.Errorf("FirstBytesSpeak(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzFirstBytesSpeak(f *testing.F) {
	for _, s := range []string{"", "HTTP/1.0 200 OK", "\x15\x03\x01", "-ERR", "SSH-2.0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		switch got := FirstBytesSpeak(b); got {
		case "":
			if len(b) > 0 {
				t.Errorf("FirstBytesSpeak(%q) = \"\"; want a protocol for bytes", b)
			}
		case SpeaksHTTP, SpeaksTLS, SpeaksOther:
		default:
			t.Errorf("FirstBytesSpeak(%q) = %q", b, got)
		}
	})
}
