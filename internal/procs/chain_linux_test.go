package procs

import "testing"

func TestTTYName(t *testing.T) {
	tests := []struct {
		nr   int
		want string
	}{
		{0, ""},
		{34816, "pts/0"},            // 136:0
		{34819, "pts/3"},            // 136:3
		{136<<8 | 1<<20, "pts/256"}, // minor 256: high bits
		{137 << 8, "pts/256"},       // second major of the pts range
		{1025, "tty1"},              // 4:1
		{4<<8 | 64, "ttyS0"},        // 4:64
		{5<<8 | 1, "tty5:1"},        // /dev/console and friends
	}
	for _, tt := range tests {
		if got := ttyName(tt.nr); got != tt.want {
			t.Errorf("ttyName(%d) = %q; want %q", tt.nr, got, tt.want)
		}
	}
}

func TestStatTTY(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"3100 (zsh) S 3099 3100 3100 34819 4242 4194560 1 0" + tail, 34819},
		{"7 (a) b) S 1 7 7 0 -1" + tail, 0},
		{"8 (x) S 1 2", 0},
		{"garbage", 0},
	}
	for _, tt := range tests {
		if got := statTTY([]byte(tt.in)); got != tt.want {
			t.Errorf("statTTY(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}
