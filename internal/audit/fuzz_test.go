package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/iotest"
)

// decodeTrace decodes data and returns a transcript: each event's raw
// bytes and offset, and each skip's reason and offset.
func decodeTrace(t *testing.T, r io.Reader, lim Limits) []string {
	d, err := NewDecoder(r, Options{Name: "f", Limits: lim})
	if err != nil {
		return []string{"gzip: " + err.Error()}
	}
	var out []string
	var ev Event
	for n := 0; ; n++ {
		if n > 1<<16 {
			t.Fatal("decoder does not terminate")
		}
		err := d.Next(&ev)
		if err == io.EOF {
			return out
		}
		var de *Error
		switch {
		case errors.As(err, &de):
			out = append(out, "skip "+string(de.Reason)+" @"+itoa(de.Offset))
			continue
		case err != nil:
			return append(out, "fatal "+err.Error())
		}
		if !json.Valid(ev.Raw) {
			t.Fatalf("event is not valid JSON: %q", ev.Raw)
		}
		if len(ev.Raw) > lim.withDefaults().MaxEventSize {
			t.Fatalf("event of %d bytes passed the %d limit", len(ev.Raw), lim.MaxEventSize)
		}
		out = append(out, "event "+string(ev.Raw)+" @"+itoa(ev.Offset))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic,
// must terminate, must only return valid JSON objects within the limits,
// and must give the same transcript whether the input arrives whole or one
// byte at a time (so buffer refills cannot change what is decoded).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{ev1 + "\n" + ev2, `{"kind":"EventList","items":[` + ev1 + "," + item3 + `]}`,
		"[" + ev1 + "]", `{"kind": 0}`, ev1 + "\n{bad\n" + ev2, `{"items":[` + ev1 + `],"kind":"EventList"}`} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "captured", "audit-eventlist-12.json")); err == nil {
		f.Add(data[:min(len(data), 4096)])
	}
	lim := Limits{MaxEventSize: 1024, MaxDepth: 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := decodeTrace(t, bytes.NewReader(data), lim)
		bytewise := decodeTrace(t, iotest.OneByteReader(bytes.NewReader(data)), lim)
		inMemory := decodeTrace(t, bytes.NewReader(data), lim)
		if len(whole) != len(bytewise) || len(whole) != len(inMemory) {
			t.Fatalf("transcripts differ:\nwhole    %q\nbytewise %q", whole, bytewise)
		}
		for i := range whole {
			if whole[i] != bytewise[i] {
				t.Fatalf("transcripts differ at %d:\nwhole    %q\nbytewise %q", i, whole[i], bytewise[i])
			}
		}
	})
}
