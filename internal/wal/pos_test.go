package wal

import "testing"

func TestPosLess(t *testing.T) {
	tests := []struct {
		name string
		p, q Pos
		want bool
	}{
		{"zero", Pos{}, Pos{}, false},
		{"zero before first", Pos{}, Pos{Seg: 1}, true},
		{"segment wins", Pos{Seg: 1, Off: 99}, Pos{Seg: 2}, true},
		{"segment wins reversed", Pos{Seg: 2}, Pos{Seg: 1, Off: 99}, false},
		{"offset", Pos{Seg: 3, Off: 1}, Pos{Seg: 3, Off: 2}, true},
		{"equal", Pos{Seg: 3, Off: 2}, Pos{Seg: 3, Off: 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Less(tc.q); got != tc.want {
				t.Errorf("%v.Less(%v) = %v, want %v", tc.p, tc.q, got, tc.want)
			}
		})
	}
}

func TestPosText(t *testing.T) {
	tests := []struct {
		name string
		pos  Pos
		want string
	}{
		{"zero", Pos{}, "0:0"},
		{"typical", Pos{Seg: 3, Off: 1048576}, "3:1048576"},
		{"max", Pos{Seg: 1<<64 - 1, Off: 1<<63 - 1}, "18446744073709551615:9223372036854775807"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pos.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			b, err := tc.pos.MarshalText()
			if err != nil || string(b) != tc.want {
				t.Fatalf("MarshalText() = %q, %v, want %q", b, err, tc.want)
			}
			var got Pos
			if err := got.UnmarshalText(b); err != nil || got != tc.pos {
				t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, got, err, tc.pos)
			}
		})
	}
}

func TestPosUnmarshalTextErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `parse wal position "": missing colon`},
		{"no colon", "12", `parse wal position "12": missing colon`},
		{"bad segment", "x:1", `parse wal position "x:1": segment: strconv.ParseUint: parsing "x": invalid syntax`},
		{"bad offset", "1:y", `parse wal position "1:y": offset: strconv.ParseInt: parsing "y": invalid syntax`},
		{"negative offset", "1:-5", `parse wal position "1:-5": negative offset`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Pos
			err := p.UnmarshalText([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("UnmarshalText(%q) error = %v, want %q", tc.in, err, tc.want)
			}
		})
	}
}
