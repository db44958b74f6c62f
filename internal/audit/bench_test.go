package audit

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// badLines is about 1 MiB of malformed lines, every one of them reported.
func badLines(n int) []byte { return bytes.Repeat([]byte("bad line!\n"), n) }

func BenchmarkDecodeBadLines(b *testing.B) {
	in := badLines(100000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ev Event
	for b.Loop() {
		d := NewBytesDecoder(in, Options{Name: "in"})
		for d.Next(&ev) != io.EOF {
		}
	}
}

// BenchmarkDecodeLines decodes JSON lines through the streaming decoder.
func BenchmarkDecodeLines(b *testing.B) {
	var in []byte
	for i := 0; i < 3000; i++ {
		in = append(in, ev1+"\n"+ev2+"\n"+ev3+"\n"...)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ev Event
	for b.Loop() {
		d, _ := NewDecoder(bytes.NewReader(in), Options{Name: "in"})
		for d.Next(&ev) != io.EOF {
		}
	}
}

// BenchmarkDecodeEventList decodes one large EventList, sorted keys
// (streamed member by member) or kind first (the fast path).
func BenchmarkDecodeEventList(b *testing.B) {
	var items []string
	for i := 0; i < 3000; i++ {
		items = append(items, ev1, ev2, ev3)
	}
	list := strings.Join(items, ",")
	for _, tc := range []struct{ name, in string }{
		{"kind-first", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + list + `]}`},
		{"sorted", `{"apiVersion":"audit.k8s.io/v1","items":[` + list + `],"kind":"EventList","metadata":{}}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			in := []byte(tc.in)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var ev Event
			for b.Loop() {
				d, _ := NewDecoder(bytes.NewReader(in), Options{Name: "in"})
				for d.Next(&ev) != io.EOF {
				}
			}
		})
	}
}

func BenchmarkParseTime(b *testing.B) {
	for _, in := range []string{"2026-11-22T11:23:09.448288Z", "2026-11-22T12:23:09+01:00"} {
		b.Run(in, func(b *testing.B) {
			ts := []byte(in)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := ParseTime(ts); !ok {
					b.Fatal("rejected")
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	raw := []byte(ev1)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var ev Event
	for b.Loop() {
		if err := Parse(&ev, raw, 0); err != nil {
			b.Fatal(err)
		}
	}
}
