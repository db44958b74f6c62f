package batch

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		h      Header
		events []string
	}{
		{"empty", Header{Capture: Webhook, Received: 1, Cluster: "prod"}, nil},
		{"one", Header{Capture: Admission, Received: 1733390000123456789, Cluster: "c"}, []string{`{"auditID":"a"}`}},
		{"many", Header{Capture: Tail, Cluster: ""}, []string{`{}`, ``, `{"x":1}`, string(bytes.Repeat([]byte("y"), 300))}},
	}
	var e Encoder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.Reset(c.h)
			for _, ev := range c.events {
				e.Add([]byte(ev))
			}
			rec := e.Bytes()
			if len(e.plain()) != e.PlainSize() {
				t.Errorf("PlainSize %d, plain %d", e.PlainSize(), len(e.plain()))
			}
			for _, old := range [][]byte{e.plain()} { // version 1 still reads
				if _, _, err := Decode(old); err != nil {
					t.Fatalf("version 1: %v", err)
				}
			}
			h, d, err := Decode(rec)
			if err != nil {
				t.Fatal(err)
			}
			if h != c.h {
				t.Errorf("header %+v, want %+v", h, c.h)
			}
			if d.Len() != len(c.events) {
				t.Errorf("Len %d, want %d", d.Len(), len(c.events))
			}
			for i := 0; ; i++ {
				ev, ok, err := d.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if i != len(c.events) {
						t.Fatalf("%d events, want %d", i, len(c.events))
					}
					break
				}
				if string(ev) != c.events[i] {
					t.Errorf("event %d = %q, want %q", i, ev, c.events[i])
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	var e Encoder
	e.Reset(Header{Capture: Webhook, Received: 5, Cluster: "prod"})
	e.Add([]byte(`{"a":1}`))
	good := e.plain()
	cases := []struct {
		name string
		rec  []byte
		want string
	}{
		{"empty", nil, "not a batch record"},
		{"magic", []byte("XYZ"), "not a batch record"},
		{"version", append([]byte{'V', 9}, good[2:]...), "unsupported version 9"},
		{"cluster", good[:6], "bad cluster name length"},
		{"truncated event", good[:len(good)-1], "bad length of event 0"},
		{"trailing", append(append([]byte{}, good...), 'x'), "trailing bytes"},
		{"bad compression", []byte{'V', 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}, "bad compressed"},
		{"corrupt compression", append([]byte{'V', 2}, 20, 0, 1, 2), "bad compressed data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decodeAll(c.rec)
			if err == nil || !errors.Is(err, ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func decodeAll(rec []byte) error {
	_, d, err := Decode(rec)
	if err != nil {
		return err
	}
	for {
		_, ok, err := d.Next()
		if err != nil || !ok {
			return err
		}
	}
}

func FuzzDecode(f *testing.F) {
	var e Encoder
	e.Reset(Header{Capture: Webhook, Received: 5, Cluster: "prod"})
	e.Add([]byte(`{"a":1}`))
	e.Add([]byte(`{}`))
	f.Add(e.Bytes())
	f.Add(e.plain())
	f.Add([]byte{'V', 1, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		_ = decodeAll(rec) // must not panic
	})
}
