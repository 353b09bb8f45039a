package procs

import (
	"errors"
	"slices"
	"testing"
)

func TestParseProcArgs2(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{
			name: "node with arguments and environment",
			in:   "\x03\x00\x00\x00/usr/local/bin/node\x00\x00\x00\x00\x00node\x00server.js\x00--port=3000\x00PATH=/usr/bin\x00HOME=/Users/dev\x00",
			want: []string{"node", "server.js", "--port=3000"},
		},
		{
			name: "empty argument kept",
			in:   "\x02\x00\x00\x00/bin/sh\x00\x00sh\x00\x00TERM=xterm\x00",
			want: []string{"sh", ""},
		},
		{
			name: "argc zero",
			in:   "\x00\x00\x00\x00/sbin/launchd\x00\x00\x00",
			want: []string{},
		},
		{
			name: "truncated last argument is dropped",
			in:   "\x02\x00\x00\x00/bin/sleep\x00\x00sleep\x0010",
			want: []string{"sleep"},
		},
		{name: "too short", in: "\x01\x00", err: true},
		{name: "negative argc", in: "\xff\xff\xff\xff/x\x00", err: true},
		{name: "argc beyond the buffer", in: "\x00\x01\x00\x00/x\x00a\x00", err: true},
		{name: "unterminated path", in: "\x01\x00\x00\x00/usr/bin/x", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcArgs2([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, errProcArgs) {
					t.Fatalf("parseProcArgs2(%q) error = %v; want one wrapping errProcArgs", tt.in, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("parseProcArgs2(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseProcArgs2(f *testing.F) {
	f.Add([]byte("\x03\x00\x00\x00/usr/local/bin/node\x00\x00\x00\x00\x00node\x00server.js\x00--port=3000\x00PATH=/usr/bin\x00"))
	f.Add([]byte("\x00\x00\x00\x00/sbin/launchd\x00\x00\x00"))
	f.Add([]byte("\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		args, err := parseProcArgs2(b)
		if err != nil {
			if !errors.Is(err, errProcArgs) {
				t.Fatalf("parseProcArgs2(%q) error %v does not wrap errProcArgs", b, err)
			}
			return
		}
		n := 0
		for _, a := range args {
			n += len(a) + 1
		}
		if n > len(b) {
			t.Fatalf("parseProcArgs2(%q) = %q: more bytes than it was given", b, args)
		}
	})
}
