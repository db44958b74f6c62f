package output

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckResponse(t *testing.T) {
	now := time.Now()
	cases := []struct {
		code      int
		hdr       string
		body      string
		permanent bool
		ok        bool
		after     time.Duration
	}{
		{200, "", "", false, true, 0},
		{204, "", "", false, true, 0},
		{400, "", "bad json", true, false, 0},
		{401, "", "", true, false, 0},
		{413, "", "too big", true, false, 0},
		{408, "", "", false, false, 0},
		{429, "7", "slow down", false, false, 7 * time.Second},
		{429, now.Add(30 * time.Second).UTC().Format(http.TimeFormat), "", false, false, 30 * time.Second},
		{503, "", "", false, false, 0},
		{503, "99999", "", false, false, time.Hour},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body))}
		if c.hdr != "" {
			resp.Header.Set("Retry-After", c.hdr)
		}
		err := CheckResponse(resp)
		if (err == nil) != c.ok {
			t.Errorf("%d: err %v", c.code, err)
			continue
		}
		if err == nil {
			continue
		}
		if IsPermanent(err) != c.permanent {
			t.Errorf("%d: permanent=%v, want %v", c.code, IsPermanent(err), c.permanent)
		}
		d, has := RetryDelay(err)
		if c.after > 0 && (!has || d < c.after-2*time.Second || d > c.after) {
			t.Errorf("%d %q: delay %v (%v), want %v", c.code, c.hdr, d, has, c.after)
		}
		if c.body != "" && !strings.Contains(err.Error(), c.body) {
			t.Errorf("%d: message %q lacks the body", c.code, err)
		}
	}
}
