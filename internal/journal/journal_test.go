package journal

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/wal"
)

func TestRoundTrip(t *testing.T) {
	src := wal.Pos{Seg: 3, Off: 4096}
	r := &Record{Src: src, Next: wal.Pos{Seg: 3, Off: 5000}, Alerts: []Alert{{
		ID: AlertID("", src, 0),
		Alert: alert.Alert{Time: 1733390000123456789, Rule: "K8s Namespace Deleted", Priority: alert.PriorityWarning,
			Source: "k8s_audit", Tags: []string{"k8s"}, Message: "deleted", Hostname: "h",
			Fields: []alert.Field{{Key: "ka.user.name", Values: []string{"admin"}}, {Key: "ka.sourceips", Values: []string{"1.2.3.4"}, List: true}, {Key: "ka.impuser.name", Missing: true}}},
		Cluster: "prod", Capture: "webhook", AuditID: "a1", Stage: "ResponseComplete",
		Received: time.Unix(0, 1733390000200000000).UTC(), Event: json.RawMessage(`{"auditID":"a1"}`),
		Where: &enrich.Where{ClientIP: "10.23.2.45", Trusted: true, IPs: []enrich.IP{
			{Addr: "81.2.69.142", Role: enrich.RoleForwarded, Location: enrich.Location{City: "London", CountryCode: "GB",
				Latitude: 51.5142, Longitude: -0.0931, ASN: 20712, Org: "Andrews & Arnold Ltd", Source: enrich.SourceGeoIP}},
			{Addr: "10.23.2.45", Role: enrich.RoleClient, Trusted: true, Location: enrich.Location{City: "Paris", Country: "France",
				Network: "corp-vpn", Source: enrich.SourceNetworkMap}}}},
	}, {ID: AlertID("", src, 1), Alert: alert.Alert{Rule: "r", Priority: alert.PriorityNotice}, Event: json.RawMessage(`{}`)}}}
	data, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"priority":"Warning"`) || !strings.Contains(string(data), `"src":"3:4096"`) ||
		!strings.Contains(string(data), `"where":{"client_ip":"10.23.2.45","trusted":true,"ips":[{"addr":"81.2.69.142","role":"forwarded"`) ||
		strings.Count(string(data), `"where"`) != 1 {
		t.Errorf("encoding: %s", data)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if _, err := Unmarshal([]byte(`{"alerts":[{"alert":{"priority":"Loud"}}]}`)); err == nil || !strings.Contains(err.Error(), "journal record") {
		t.Errorf("bad priority: %v", err)
	}
}

func TestAlertIDInstance(t *testing.T) {
	p := wal.Pos{Seg: 1, Off: 2}
	if a, b := AlertID("00aa", p, 0), AlertID("00bb", p, 0); a == b || !strings.HasPrefix(a, "00aa") {
		t.Errorf("instances do not separate IDs: %s %s", a, b)
	}
}

func TestAlertIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range []wal.Pos{{Seg: 1, Off: 0}, {Seg: 1, Off: 1}, {Seg: 2, Off: 0}, {Seg: 0x10, Off: 0x1}} {
		for i := 0; i < 3; i++ {
			id := AlertID("", p, i)
			if seen[id] {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = true
		}
	}
}
