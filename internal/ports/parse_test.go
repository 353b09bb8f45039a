package ports

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr string // substring of the error; "" means no error
	}{
		{name: "range", in: "3000-3999", want: Range{3000, 3999}},
		{name: "one port", in: "8080", want: Range{8080, 8080}},
		{name: "same ends", in: "5-5", want: Range{5, 5}},
		{name: "whole space", in: "1-65535", want: Range{1, 65535}},
		{name: "dynamic", in: "dynamic", want: Range{49152, 65535}},
		{name: "dynamic upper case", in: "DYNAMIC", want: Range{49152, 65535}},
		{name: "registered", in: "registered", want: Range{1024, 49151}},
		{name: "backwards", in: "9-3", wantErr: "backwards"},
		{name: "zero", in: "0-100", wantErr: "first port"},
		{name: "too big", in: "1-65536", wantErr: "last port"},
		{name: "empty", in: "", wantErr: "empty range"},
		{name: "missing end", in: "3000-", wantErr: "last port"},
		{name: "missing start", in: "-3000", wantErr: "first port"},
		{name: "two dashes", in: "1-2-3", wantErr: "last port"},
		{name: "spaces", in: "1 - 2", wantErr: "port"},
		{name: "word", in: "lots", wantErr: "not a port"},
		{name: "negative", in: "-1", wantErr: "first port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRange(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"3000-3999", "9-3", "dynamic", "1", "65535-65535", "0-0", "-", "1--2", "99999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseRange(%q): empty error message", s)
			}
			return
		}
		if r.Lo == 0 || r.Lo > r.Hi {
			t.Fatalf("ParseRange(%q) = %v; want 1 <= Lo <= Hi", s, r)
		}
		if r.Len() < 1 || r.Len() > 65535 {
			t.Fatalf("ParseRange(%q).Len() = %d", s, r.Len())
		}
		// What String prints parses back to the same range.
		if r2, err := ParseRange(r.String()); err != nil || r2 != r {
			t.Fatalf("ParseRange(%q) = %v, %v; want %v", r.String(), r2, err, r)
		}
	})
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "seconds", in: "5s", want: 5 * time.Second},
		{name: "millis", in: "250ms", want: 250 * time.Millisecond},
		{name: "compound", in: "1m30s", want: 90 * time.Second},
		{name: "zero", in: "0", want: 0},
		{name: "zero seconds", in: "0s", want: 0},
		{name: "bare number is seconds", in: "30", want: 30 * time.Second},
		{name: "fraction", in: "0.5", want: 500 * time.Millisecond},
		{name: "plus", in: "+2s", want: 2 * time.Second},
		{name: "negative", in: "-1s", wantErr: "negative"},
		{name: "negative bare", in: "-3", wantErr: "negative"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no unit word", in: "five", wantErr: "not a duration"},
		{name: "bad unit", in: "5x", wantErr: "not a duration"},
		{name: "nan", in: "NaN", wantErr: "not a duration"},
		{name: "inf", in: "Inf", wantErr: "not a duration"},
		{name: "exponent", in: "1e3", wantErr: "not a duration"},
		{name: "too long", in: "2000h", wantErr: "too long"},
		{name: "too long bare", in: "99999999999", wantErr: "too long"},
		{name: "overflow", in: "9999999999999h", wantErr: "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"5s", "-1s", "0", "1.5", "1m30s", "NaN", "1e9", "-0", ".5", "9223372036s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || d > maxTimeout {
			t.Fatalf("ParseDuration(%q) = %v; want 0 <= d <= %v", s, d, maxTimeout)
		}
	})
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    StatusSet
		wantErr bool
	}{
		{name: "range", in: "200-399", want: StatusSet{{200, 399}}},
		{name: "one", in: "204", want: StatusSet{{204, 204}}},
		{name: "list", in: "200,204, 300-308", want: StatusSet{{200, 200}, {204, 204}, {300, 308}}},
		{name: "class", in: "2xx", want: StatusSet{{200, 299}}},
		{name: "class upper", in: "5XX", want: StatusSet{{500, 599}}},
		{name: "backwards", in: "399-200", wantErr: true},
		{name: "too small", in: "99", wantErr: true},
		{name: "too big", in: "600", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "empty item", in: "200,", wantErr: true},
		{name: "class 6", in: "6xx", wantErr: true},
		{name: "word", in: "ok", wantErr: true},
		{name: "four digits", in: "2000", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseStatus(%q) = %v, nil; want an error", tt.in, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseStatus(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"200-399", "2xx", "200,204", "999", "", ",", "100-599"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseStatus(s)
		if err != nil {
			return
		}
		if len(set) == 0 {
			t.Fatalf("ParseStatus(%q) = empty set, nil", s)
		}
		for _, r := range set {
			if r.Lo < 100 || r.Hi > 599 || r.Lo > r.Hi {
				t.Fatalf("ParseStatus(%q) has range %v outside 100-599", s, r)
			}
		}
	})
}

func TestParseEphemeral(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr bool
	}{
		{name: "linux default", in: "32768\t60999\n", want: Range{32768, 60999}},
		{name: "spaces", in: "  1024 65535", want: Range{1024, 65535}},
		{name: "one number", in: "32768\n", wantErr: true},
		{name: "three numbers", in: "1 2 3\n", wantErr: true},
		{name: "backwards", in: "60999 32768\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "garbage", in: "a b\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEphemeral(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseEphemeral(%q) = %v, nil; want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseEphemeral(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseEphemeral(f *testing.F) {
	f.Add("32768\t60999\n")
	f.Add("1 1")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseEphemeral(strings.NewReader(s))
		if err == nil && (r.Lo == 0 || r.Lo > r.Hi) {
			t.Fatalf("ParseEphemeral(%q) = %v", s, r)
		}
	})
}

func TestEphemeralAndDefaultRanges(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []Range
	}{
		{name: "linux default", fsys: fstest.MapFS{"proc/sys/net/ipv4/ip_local_port_range": {Data: []byte("32768\t60999\n")}},
			want: []Range{{1024, 32767}}},
		{name: "inside registered", fsys: fstest.MapFS{"proc/sys/net/ipv4/ip_local_port_range": {Data: []byte("40000 45000\n")}},
			want: []Range{{1024, 39999}, {45001, 49151}}},
		{name: "whole space", fsys: fstest.MapFS{"proc/sys/net/ipv4/ip_local_port_range": {Data: []byte("1024 65535\n")}},
			want: nil},
		{name: "no proc: IANA dynamic", fsys: fstest.MapFS{}, want: []Range{{1024, 49151}}},
		{name: "garbled: IANA dynamic", fsys: fstest.MapFS{"proc/sys/net/ipv4/ip_local_port_range": {Data: []byte("x")}},
			want: []Range{{1024, 49151}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultRanges(EphemeralRange(tt.fsys))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("DefaultRanges(EphemeralRange(%v)) = %v; want %v", tt.fsys, got, tt.want)
			}
		})
	}
}
