package condition

import "testing"

func BenchmarkParse(b *testing.B) {
	// A long rule condition with lists, quoted values and field arguments.
	const cond = `kevt and (role or clusterrole) and (kmodify or kdelete) and (ka.target.name startswith "system:") and
not ka.target.name in (system:coredns, system:managed-certificate-controller) and
(ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock)) and
jevt.value[/annotations/authorization.k8s.io~1decision] = allow and ka.response.code >= 400 and
not tolower(ka.user.name) contains "admin"`
	b.SetBytes(int64(len(cond)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(cond, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
