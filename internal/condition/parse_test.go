package condition

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders a tree with every node kind and flag, optionally with
// positions, so that tests can compare trees.
func dump(n Node, withPos bool) string {
	var b strings.Builder
	dumpTo(&b, n, withPos)
	return b.String()
}

func dumpTo(b *strings.Builder, n Node, withPos bool) {
	if withPos {
		fmt.Fprintf(b, "%d:", n.Position())
	}
	switch n := n.(type) {
	case *BinaryNode:
		fmt.Fprintf(b, "(%s", n.Op)
		for _, c := range n.Children {
			b.WriteByte(' ')
			dumpTo(b, c, withPos)
		}
		b.WriteByte(')')
	case *NotNode:
		b.WriteString("(not ")
		dumpTo(b, n.X, withPos)
		b.WriteByte(')')
	case *IdentNode:
		fmt.Fprintf(b, "ident:%s", n.Name)
	case *FieldNode:
		fmt.Fprintf(b, "field:%s", n.Name)
		if n.HasArg {
			fmt.Fprintf(b, "[%q]", n.Arg)
		}
	case *TransformNode:
		fmt.Fprintf(b, "(%s ", n.Name)
		dumpTo(b, n.X, withPos)
		b.WriteByte(')')
	case *ValueNode:
		if n.Quoted {
			fmt.Fprintf(b, "q%q", n.Text)
		} else {
			fmt.Fprintf(b, "b%q", n.Text)
		}
	case *ListNode:
		if n.Bare {
			b.WriteString("(barelist")
		} else {
			b.WriteString("(list")
		}
		for _, v := range n.Items {
			b.WriteByte(' ')
			dumpTo(b, v, withPos)
		}
		b.WriteByte(')')
	case *FieldValueNode:
		b.WriteString("(val ")
		dumpTo(b, n.X, withPos)
		b.WriteByte(')')
	case *CheckNode:
		fmt.Fprintf(b, "(check %q ", n.Op)
		dumpTo(b, n.Left, withPos)
		if n.Right != nil {
			b.WriteByte(' ')
			dumpTo(b, n.Right, withPos)
		}
		b.WriteByte(')')
	default:
		fmt.Fprintf(b, "?%T", n)
	}
}

type parseTest struct {
	name  string
	input string
	want  string // canonical String()
}

var parseTests = []parseTest{
	// Operators.
	{"eq", "ka.verb=create", "ka.verb = create"},
	{"eqeq", "ka.verb==create", "ka.verb = create"},
	{"eq spaced", "ka.verb = create", "ka.verb = create"},
	{"ne", "ka.target.namespace!=kube-system", "ka.target.namespace != kube-system"},
	{"lt", "ka.x<1", "ka.x < 1"},
	{"le", "ka.x<=1.5", "ka.x <= 1.5"},
	{"gt", "ka.x>-2", "ka.x > -2"},
	{"ge", "ka.response.code>=400", "ka.response.code >= 400"},
	{"exponent", "ka.x >= 1e+3", "ka.x >= 1e+3"},
	{"exponent unsigned", "ka.x >= 2E10", "ka.x >= 2E10"},
	{"plus fraction exponent", "ka.x > +1.25e-3", "ka.x > +1.25e-3"},
	{"trailing dot", "ka.x > 1.", "ka.x > 1."},
	{"hex", "ka.x > 0x1F", "ka.x > 0x1F"},
	{"contains", `ka.req.configmap.obj contains "password"`, `ka.req.configmap.obj contains "password"`},
	{"icontains", "ka.x icontains Foo", "ka.x icontains Foo"},
	{"bcontains", "ka.x bcontains 0a0b", "ka.x bcontains 0a0b"},
	{"startswith", "ka.response.code startswith 2", "ka.response.code startswith 2"},
	{"bstartswith", "ka.x bstartswith 7f45", "ka.x bstartswith 7f45"},
	{"endswith", "ka.x endswith .sock", "ka.x endswith .sock"},
	{"glob", "ka.x glob /var/*/x?", "ka.x glob /var/*/x?"},
	{"iglob", "ka.x iglob *.EXE", "ka.x iglob *.EXE"},
	{"regex", `ka.x regex "^a.*[0-9]+$"`, `ka.x regex "^a.*[0-9]+$"`},
	{"regex bare", "ka.x regex ^a.*$", "ka.x regex ^a.*$"},
	{"exists", "jevt.rawtime exists", "jevt.rawtime exists"},
	{"exists then paren", "(ka.x exists)", "ka.x exists"},
	{"in", "ka.verb in (create,update,patch)", "ka.verb in (create, update, patch)"},
	{"in no blank", "ka.verb in(create)", "ka.verb in (create)"},
	{"intersects", `ka.req.role.rules.verbs intersects ("*")`, `ka.req.role.rules.verbs intersects ("*")`},
	{"pmatch", "ka.x pmatch (/var/run, /etc)", "ka.x pmatch (/var/run, /etc)"},
	{"intersects no blank", "ka.x intersects(true)", "ka.x intersects (true)"},
	{"tab after word op", "ka.x contains\tfoo", "ka.x contains foo"},
	{"newline after word op", "ka.x startswith\n/x", "ka.x startswith /x"},

	// Modifiers.
	{"contains anyof", "ka.x contains anyof (a, 'b')", `ka.x contains anyof (a, "b")`},
	{"eq oneof", "ka.x == oneof (a)", "ka.x = oneof (a)"},
	{"startswith allof", "ka.x startswith allof(a,b)", "ka.x startswith allof (a, b)"},
	{"modifier empty list", "ka.x glob anyof ()", "ka.x glob anyof ()"},
	{"modifier word as value", "ka.x = anyof", "ka.x = anyof"},
	{"modifier word as value then and", "ka.x contains oneof and a", "ka.x contains oneof and a"},
	{"modifier word as value in parens", "(ka.x = allof)", "ka.x = allof"},
	{"quoted modifier word is a value", `ka.x = "anyof"`, `ka.x = "anyof"`},

	// Precedence and structure.
	{"or and not", "a or b and not c", "a or b and not c"},
	{"and chain", "a and b and c", "a and b and c"},
	{"or chain", "a or b or c", "a or b or c"},
	{"or in and", "(a or b) and c", "(a or b) and c"},
	{"or in and right", "a and (b or c)", "a and (b or c)"},
	{"and in or parens dropped", "(a and b) or c", "a and b or c"},
	{"explicit and group kept", "(a and b) and c", "(a and b) and c"},
	{"explicit or group kept", "a or (b or c)", "a or (b or c)"},
	{"not binds tighter", "not a and b", "not a and b"},
	{"not group", "not (a and b)", "not (a and b)"},
	{"not paren", "not(a or b)", "not (a or b)"},
	{"not paren single", "not(a)", "not a"},
	{"not not", "not not a", "not not a"},
	{"not not paren", "not (not a)", "not not a"},
	{"not check", "not ka.user.name startswith \"system:\"", `not ka.user.name startswith "system:"`},
	{"redundant parens", "((a))", "a"},
	{"or paren no blank", "a or(b)", "a or b"},
	{"and paren no blank", "a and(b or c)", "a and (b or c)"},
	{"blanks everywhere", " \t a \n and\r\n b \b", "a and b"},
	{"no blank around parens", "(a)and(b)", "a and b"},

	// Macros and keyword prefixes.
	{"macro", "k8s_audit_always_true", "k8s_audit_always_true"},
	{"macro parens", "(k8s_audit_always_true)", "k8s_audit_always_true"},
	{"macro digits", "kevt2 and k8s_1", "kevt2 and k8s_1"},
	{"notice is a name", "notice", "notice"},
	{"not notice", "not notice", "not notice"},
	{"order android", "order and android", "order and android"},
	{"operator words as macros", "in and exists or contains", "in and exists or contains"},
	{"transformer name as macro", "tolower and len", "tolower and len"},
	{"field starting with not", "not.x exists", "not.x exists"},
	{"field starting with keyword", "ka.target.namespace = default and or.x exists", "ka.target.namespace = default and or.x exists"},

	// Values.
	{"bare colon", "ka.user.name=system:anonymous", "ka.user.name = system:anonymous"},
	{"bare question", "ka.uri startswith /healthz?", "ka.uri startswith /healthz?"},
	{"bare digit", "ka.x = 2", "ka.x = 2"},
	{"bare slash", "ka.x = pods/exec", "ka.x = pods/exec"},
	{"bare star", "ka.x = *", "ka.x = *"},
	{"bare field-like", "ka.x = ka.y", "ka.x = ka.y"},
	{"bare keyword", "ka.x = and", "ka.x = and"},
	{"bare transformer name", "ka.x = tolower", "ka.x = tolower"},
	{"bare val", "ka.x = val and ka.y != val", "ka.x = val and ka.y != val"},
	{"bare bang", "ka.x = !x", "ka.x = !x"},
	{"bare brackets", "ka.x = a[b]", "ka.x = a[b]"},
	{"bare NA", "ka.x = <NA>", "ka.x = <NA>"},
	{"bare ends at paren", "(ka.x=foo)", "ka.x = foo"},
	{"bare utf8", "ka.x = héllo", "ka.x = héllo"},
	{"single quoted", "ka.x = 'abc'", `ka.x = "abc"`},
	{"quoted space", `ka.x = "a b"`, `ka.x = "a b"`},
	{"quoted empty", `ka.x = ""`, `ka.x = ""`},
	{"quoted escaped quote", `ka.x = "a\"b"`, `ka.x = "a\"b"`},
	{"single escaped quote", `ka.x = 'it\'s'`, `ka.x = "it's"`},
	{"single with double inside", `ka.x = 'say "hi"'`, `ka.x = "say \"hi\""`},
	{"escapes", `ka.x = "\n\t\r\b\f\/\\"`, `ka.x = "\n\t\r\b\f/\\"`},
	{"hex escapes", `ka.x = "\x41\x01\x7f\xff"`, "ka.x = \"A\\x01\\x7f\xff\""},
	{"quoted parens and comma", `ka.x = "(a,b)=c"`, `ka.x = "(a,b)=c"`},
	{"quoted backslash end", `ka.x = "a\\"`, `ka.x = "a\\"`},

	// Lists.
	{"list empty", "ka.x in ()", "ka.x in ()"},
	{"list empty blank", "ka.x in ( )", "ka.x in ()"},
	{"list one", "ka.x in (a)", "ka.x in (a)"},
	{"list quoted", `ka.x in ("a", 'b c')`, `ka.x in ("a", "b c")`},
	{"list special chars", "ka.x in (/a/b, a:b, *, a.b, a-b, a?, <NA>)", "ka.x in (/a/b, a:b, *, a.b, a-b, a?, <NA>)"},
	{"list multi-line", "ka.x in (\n  a,\n  b\n)", "ka.x in (a, b)"},
	{"list keyword items", "ka.x in (and, or, not)", "ka.x in (and, or, not)"},
	{"bare identifier list", "ka.x in foo", "ka.x in foo"},
	{"bare identifier list keyword", "ka.x intersects and", "ka.x intersects and"},
	{"bare identifier list then and", "ka.x pmatch foo and b", "ka.x pmatch foo and b"},

	// Field arguments.
	{"arg stage", "jevt.value[/stage] = ResponseComplete", "jevt.value[/stage] = ResponseComplete"},
	{"arg word", "ka.uri.param[command] exists", "ka.uri.param[command] exists"},
	{"arg index", "ka.req.pod.containers.image[0] exists", "ka.req.pod.containers.image[0] exists"},
	{"arg json pointer ~1", "jevt.value[/annotations/authorization.k8s.io~1decision] = allow", "jevt.value[/annotations/authorization.k8s.io~1decision] = allow"},
	{"arg json pointer ~0", "jevt.value[/metadata/a~0b] exists", "jevt.value[/metadata/a~0b] exists"},
	{"arg quoted", `ka.x["a b"] exists`, `ka.x["a b"] exists`},
	{"arg single quoted", "ka.x['q'] exists", "ka.x[q] exists"},
	{"arg quoted bracket", `ka.x["a]"] exists`, `ka.x["a]"] exists`},
	{"arg quoted leading quote", `ka.x["\"x"] exists`, `ka.x["\"x"] exists`},
	{"arg empty", "ka.x[] exists", "ka.x[] exists"},
	{"arg nested brackets", "ka.x[a[0]] exists", "ka.x[a[0]] exists"},
	{"arg inner quote", `ka.x[a"b] exists`, `ka.x[a"b] exists`},
	{"arg with blank", "ka.x[a b] exists", `ka.x["a b"] exists`},
	{"arg then operator", "jevt.value[/stage]=x", "jevt.value[/stage] = x"},
	{"arg then exists no blank", "ka.x[a]exists", "ka.x[a] exists"},

	// Transformers and val().
	{"tolower", "tolower(ka.user.name) = admin", "tolower(ka.user.name) = admin"},
	{"toupper", "toupper(ka.verb) = GET", "toupper(ka.verb) = GET"},
	{"basename", "basename(ka.uri) = healthz", "basename(ka.uri) = healthz"},
	{"b64", "b64(ka.x) contains secret", "b64(ka.x) contains secret"},
	{"len", "len(ka.user.groups) > 3", "len(ka.user.groups) > 3"},
	{"nested", "tolower(b64(ka.x)) exists", "tolower(b64(ka.x)) exists"},
	{"blanks inside", "tolower( ka.x ) = a", "tolower(ka.x) = a"},
	{"with arg", "tolower(jevt.value[/user/username]) startswith system:", "tolower(jevt.value[/user/username]) startswith system:"},
	{"right transformer", "ka.x = tolower(ka.y)", "ka.x = tolower(ka.y)"},
	{"right transformer num", "ka.x > len(ka.y)", "ka.x > len(ka.y)"},
	{"right transformer list", "ka.x in toupper(ka.y)", "ka.x in toupper(ka.y)"},
	{"val", "ka.x = val(ka.y)", "ka.x = val(ka.y)"},
	{"val ne", "ka.x!=val(ka.y[a])", "ka.x != val(ka.y[a])"},
	{"val num", "ka.x >= val(ka.y)", "ka.x >= val(ka.y)"},
	{"val list", "ka.x intersects val(ka.y)", "ka.x intersects val(ka.y)"},
	{"val transformed", "ka.x = val(tolower(ka.y))", "ka.x = val(tolower(ka.y))"},
	{"both sides", "tolower(ka.x) = tolower(ka.y)", "tolower(ka.x) = tolower(ka.y)"},

	// Multi-line.
	{"multi-line", "kevt\n  and non_system_user\n  and ka.user.name in (full_admin_k8s_users)\n  and not allowed_full_admin_users\n",
		"kevt and non_system_user and ka.user.name in (full_admin_k8s_users) and not allowed_full_admin_users"},
	{"crlf", "a\r\nand\r\nb", "a and b"},
}

// falcoTests are conditions copied verbatim from the shipped
// k8s_audit_rules.yaml (block scalars keep their line breaks here).
var falcoTests = []parseTest{
	{"k8s_audit_always_true", "(jevt.rawtime exists)", "jevt.rawtime exists"},
	{"k8s_audit_never_true", "(jevt.rawtime=0)", "jevt.rawtime = 0"},
	{"non_system_user", `(not ka.user.name startswith "system:")`, `not ka.user.name startswith "system:"`},
	{"kevt", "(jevt.value[/stage] in (k8s_audit_stages))", "jevt.value[/stage] in (k8s_audit_stages)"},
	{"kevt_started", "(jevt.value[/stage]=ResponseStarted)", "jevt.value[/stage] = ResponseStarted"},
	{"Disallowed K8s User",
		"kevt and non_system_user and not ka.user.name in (allowed_k8s_users) and not ka.user.name in (eks_allowed_k8s_users)",
		"kevt and non_system_user and not ka.user.name in (allowed_k8s_users) and not ka.user.name in (eks_allowed_k8s_users)"},
	{"kmodify", "(ka.verb in (create,update,patch))", "ka.verb in (create, update, patch)"},
	{"pod", "ka.target.resource=pods and not ka.target.subresource exists", "ka.target.resource = pods and not ka.target.subresource exists"},
	{"health_endpoint", "ka.uri=/healthz or ka.uri startswith /healthz?", "ka.uri = /healthz or ka.uri startswith /healthz?"},
	{"any_container_privileged",
		"(ka.req.pod.containers.privileged intersects (true) or\n ka.req.pod.initContainers.privileged intersects (true) or\n ka.req.pod.ephemeralContainers.privileged intersects (true))\n",
		"ka.req.pod.containers.privileged intersects (true) or ka.req.pod.initContainers.privileged intersects (true) or ka.req.pod.ephemeralContainers.privileged intersects (true)"},
	{"sensitive_vol_mount",
		"(ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock, /run/containerd/containerd.sock, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki, /etc/kubernetes, /etc/kubernetes/manifests))\n",
		"ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock, /run/containerd/containerd.sock, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki, /etc/kubernetes, /etc/kubernetes/manifests)"},
	{"contains_private_credentials",
		"(ka.req.configmap.obj contains \"aws_access_key_id\" or\n ka.req.configmap.obj contains \"aws-access-key-id\" or\n ka.req.configmap.obj contains \"aws_s3_access_key_id\" or\n ka.req.configmap.obj contains \"aws-s3-access-key-id\" or\n ka.req.configmap.obj contains \"password\" or\n ka.req.configmap.obj contains \"passphrase\")\n",
		`ka.req.configmap.obj contains "aws_access_key_id" or ka.req.configmap.obj contains "aws-access-key-id" or ka.req.configmap.obj contains "aws_s3_access_key_id" or ka.req.configmap.obj contains "aws-s3-access-key-id" or ka.req.configmap.obj contains "password" or ka.req.configmap.obj contains "passphrase"`},
	{"Anonymous Request Allowed",
		`kevt and ka.user.name=system:anonymous and ka.auth.decision="allow" and not health_endpoint and not live_endpoint and not ready_endpoint`,
		`kevt and ka.user.name = system:anonymous and ka.auth.decision = "allow" and not health_endpoint and not live_endpoint and not ready_endpoint`},
	{"Attach/Exec Pod",
		"kevt_started and pod_subresource and (kcreate or kget) and ka.target.subresource in (exec,attach) and not user_known_exec_pod_activities",
		"kevt_started and pod_subresource and (kcreate or kget) and ka.target.subresource in (exec, attach) and not user_known_exec_pod_activities"},
	{"allowed_kube_namespace_pods",
		"(ka.req.pod.containers.image.repository in (user_allowed_kube_namespace_image_list) or\nka.req.pod.containers.image.repository in (allowed_kube_namespace_image_list))",
		"ka.req.pod.containers.image.repository in (user_allowed_kube_namespace_image_list) or ka.req.pod.containers.image.repository in (allowed_kube_namespace_image_list)"},
	{"System ClusterRole Modified/Deleted",
		"kevt and (role or clusterrole) and (kmodify or kdelete) and (ka.target.name startswith \"system:\") and\nnot ka.target.name in (system:coredns, system:managed-certificate-controller)",
		`kevt and (role or clusterrole) and (kmodify or kdelete) and ka.target.name startswith "system:" and not ka.target.name in (system:coredns, system:managed-certificate-controller)`},
	{"ClusterRole With Wildcard Created",
		`kevt and (role or clusterrole) and kcreate and (ka.req.role.rules.resources intersects ("*") or ka.req.role.rules.verbs intersects ("*"))`,
		`kevt and (role or clusterrole) and kcreate and (ka.req.role.rules.resources intersects ("*") or ka.req.role.rules.verbs intersects ("*"))`},
	{"K8s Secret Created",
		"(kactivity and kcreate and secret and ka.target.namespace!=kube-system and non_system_user and response_successful)",
		"kactivity and kcreate and secret and ka.target.namespace != kube-system and non_system_user and response_successful"},
	{"Untrusted Node Unsuccessfully Tried to Join the Cluster",
		"kevt and node\nand kcreate\nand not response_successful\nand not allow_all_k8s_nodes\nand not ka.target.name in (allowed_k8s_nodes)\n",
		"kevt and node and kcreate and not response_successful and not allow_all_k8s_nodes and not ka.target.name in (allowed_k8s_nodes)"},
	{"ingress_tls", "(jevt.value[/requestObject/spec/tls] exists)", "jevt.value[/requestObject/spec/tls] exists"},
}

func TestParse(t *testing.T) {
	for _, tests := range [][]parseTest{parseTests, falcoTests} {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n, err := Parse(tc.input, Options{})
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.input, err)
				}
				if got := n.String(); got != tc.want {
					t.Errorf("Parse(%q).String()\n got: %s\nwant: %s", tc.input, got, tc.want)
				}
			})
		}
	}
}

// TestRoundTrip checks that the canonical text parses back to the same
// tree and prints the same again.
func TestRoundTrip(t *testing.T) {
	for _, tests := range [][]parseTest{parseTests, falcoTests} {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				checkRoundTrip(t, tc.input)
			})
		}
	}
}

// checkRoundTrip parses input and, if it parses, checks that its String
// re-parses to an equal tree with an identical String.
func checkRoundTrip(t *testing.T, input string) {
	t.Helper()
	n1, err := Parse(input, Options{})
	if err != nil {
		return
	}
	s1 := n1.String()
	n2, err := Parse(s1, Options{})
	if err != nil {
		t.Fatalf("re-parse of %q (from %q): %v", s1, input, err)
	}
	if s2 := n2.String(); s2 != s1 {
		t.Fatalf("round trip of %q:\nfirst:  %s\nsecond: %s", input, s1, s2)
	}
	if d1, d2 := dump(n1, false), dump(n2, false); d1 != d2 {
		t.Fatalf("round trip of %q changed the tree:\nfirst:  %s\nsecond: %s", input, d1, d2)
	}
}

func TestTree(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // dump with positions
	}{
		{"positions", `not ka.x = "v" and b`,
			`10:(and 10:(not 14:(check "=" 14:field:ka.x 21:q"v")) 29:ident:b)`},
		{"binary starts at paren", "(a) or b", `10:(or 11:ident:a 17:ident:b)`},
		{"flat and", "a and b and c", `10:(and 10:ident:a 16:ident:b 22:ident:c)`},
		{"nested and", "(a and b) and c", `10:(and 11:(and 11:ident:a 17:ident:b) 24:ident:c)`},
		{"bare list", "ka.x in foo", `10:(check "in" 10:field:ka.x 18:(barelist 18:b"foo"))`},
		{"list", "ka.x in ( a ,'b')", `10:(check "in" 10:field:ka.x 18:(list 20:b"a" 23:q"b"))`},
		{"empty list", "ka.x in ()", `10:(check "in" 10:field:ka.x 18:(list))`},
		{"arg", `ka.x["a\tb"] exists`, `10:(check "exists" 10:field:ka.x["a\tb"])`},
		{"transformers", "tolower(b64(ka.x)) = val(ka.y)",
			`10:(check "=" 10:(tolower 18:(b64 22:field:ka.x)) 31:(val 35:field:ka.y))`},
		{"modifier", "ka.x == anyof (a)", `10:(check "= anyof" 10:field:ka.x 24:(list 25:b"a"))`},
		{"number", "ka.x>=0x10", `10:(check ">=" 10:field:ka.x 16:b"0x10")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Parse(tc.input, Options{Base: 10})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.input, err)
			}
			if got := dump(n, true); got != tc.want {
				t.Errorf("Parse(%q)\n got: %s\nwant: %s", tc.input, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	opList := "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', " +
		"'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', " +
		"'regex', 'intersects', 'in', 'pmatch'"
	checkStart := "expected '(', 'not', a field, a transformer or an identifier"
	tests := []struct {
		name  string
		input string
		opts  Options
		pos   Pos
		msg   string
	}{
		// Input as a whole.
		{"empty", "", Options{}, 0, "filter input string is empty"},
		{"blank", " \n\t", Options{}, 0, "filter input string is empty"},
		{"empty with base", "", Options{Base: 7}, 7, "filter input string is empty"},
		{"too long", "a and b", Options{MaxLen: 5}, 0, "condition too long: 7 bytes, limit 5"},
		{"too long default", strings.Repeat("a", DefaultMaxLen+1), Options{}, 0, "condition too long: 100001 bytes, limit 100000"},
		{"too deep parens", "((((a))))", Options{MaxDepth: 3}, 3, "max expression depth exceeded"},
		{"too deep default", strings.Repeat("(", 1001) + "a" + strings.Repeat(")", 1001), Options{}, 1000, "max expression depth exceeded"},
		{"too deep not", strings.Repeat("not ", 4) + "a", Options{MaxDepth: 3}, 12, "max expression depth exceeded"},
		{"too deep transformers", "tolower(tolower(ka.x)) exists", Options{MaxDepth: 1}, 8, "max expression depth exceeded"},

		// Structure.
		{"trailing ident", "a b", Options{}, 2, "unexpected token after 'a', expecting 'or', 'and'"},
		{"trailing paren", "a)", Options{}, 1, "unexpected token after 'a', expecting 'or', 'and'"},
		{"trailing after check", "ka.x exists)", Options{}, 11, "unexpected token after 'exists', expecting 'or', 'and'"},
		{"trailing after quoted", `ka.x = "a" b`, Options{}, 11, `unexpected token after '"a"', expecting 'or', 'and'`},
		{"trailing after list", "ka.x in (a) b", Options{}, 12, "unexpected token after ')', expecting 'or', 'and'"},
		{"trailing operator", "ka.x = a = b", Options{}, 9, "unexpected token after 'a', expecting 'or', 'and'"},
		{"trailing with base", "a b", Options{Base: 1000}, 1002, "unexpected token after 'a', expecting 'or', 'and'"},
		{"ident with operator", "foo = bar", Options{}, 4, "unexpected token after 'foo', expecting 'or', 'and'"},
		{"unclosed paren", "(a", Options{}, 2, "unexpected end of input in parenthesized expression, expected 'and', 'or' or ')'"},
		{"garbage in parens", "(a b)", Options{}, 3, "unexpected 'b' in parenthesized expression, expected 'and', 'or' or ')'"},
		{"and at end", "a and", Options{}, 5, "expected blank or '(' after 'and'"},
		{"or then quote", `a or"b"`, Options{}, 4, "expected blank or '(' after 'or'"},
		{"and then nothing", "a and ", Options{}, 6, "unexpected end of input in condition, " + checkStart},
		{"not alone", "not", Options{}, 3, "expected blank or '(' after 'not'"},
		{"not paren close", "(not)", Options{}, 4, "expected blank or '(' after 'not'"},
		{"leading and", "and a", Options{}, 0, "unexpected 'and' in condition, " + checkStart},
		{"empty parens", "a and ()", Options{}, 7, "unexpected ')' in condition, " + checkStart},
		{"slash", "/x", Options{}, 0, "unexpected '/' in condition, " + checkStart},
		{"number", "1 = a", Options{}, 0, "unexpected '1' in condition, " + checkStart},
		{"quoted", `"a"`, Options{}, 0, `unexpected quoted string "a" in condition, ` + checkStart},
		{"val on left", "val(ka.x) = a", Options{}, 0, "unexpected 'val(' in condition, " + checkStart},
		{"control char", "a and \x01", Options{}, 6, `unexpected "\x01" in condition, ` + checkStart},

		// Operators.
		{"no operator", "ka.x", Options{}, 4, opList},
		{"unknown operator", "ka.x foo", Options{}, 5, opList},
		{"uppercase operator", "ka.x CONTAINS a", Options{}, 5, opList},
		{"bang", "ka.x ! a", Options{}, 5, opList},
		{"field then and", "ka.x and b", Options{}, 5, opList},
		{"transformer no operator", "tolower(ka.x)", Options{}, 13, opList},
		{"word op no blank", `ka.x contains"a"`, Options{}, 13, "expected blank after 'contains'"},
		{"word op at end", "ka.x startswith", Options{}, 15, "expected blank after 'startswith'"},
		{"list op at end", "ka.x in", Options{}, 7, "expected blank or '(' after 'in'"},
		{"list op quote", `ka.x in"a"`, Options{}, 7, "expected blank or '(' after 'in'"},

		// Right-hand sides.
		{"num bare", "ka.x > abc", Options{}, 7, "unexpected 'abc' after '>', expected a number, a transformer or val()"},
		{"num suffix", "ka.x >= 1a", Options{}, 8, "unexpected '1a' after '>=', expected a number, a transformer or val()"},
		{"num quoted", "ka.x < '1'", Options{}, 7, `unexpected quoted string '1' after '<', expected a number, a transformer or val()`},
		{"num bad hex", "ka.x <= 0xg", Options{}, 8, "unexpected '0xg' after '<=', expected a number, a transformer or val()"},
		{"num bad exponent", "ka.x <= 1e", Options{}, 8, "unexpected '1e' after '<=', expected a number, a transformer or val()"},
		{"num sign only", "ka.x > -", Options{}, 7, "unexpected '-' after '>', expected a number, a transformer or val()"},
		{"num at end", "ka.x >", Options{}, 6, "unexpected end of input after '>', expected a number, a transformer or val()"},
		{"num list", "ka.x > (1)", Options{}, 7, "unexpected '(' after '>', expected a number, a transformer or val()"},
		{"str at end", "ka.x =", Options{}, 6, "unexpected end of input after '=', expected a value, a transformer or val()"},
		{"str comma", "ka.x == ,", Options{}, 8, "unexpected ',' after '==', expected a value, a transformer or val()"},
		{"str equals", "ka.x = = a", Options{}, 7, "unexpected '=' after '=', expected a value, a transformer or val()"},
		{"str list", "ka.x contains (a)", Options{}, 14, "unexpected '(' after 'contains', expected a value, a transformer or val()"},
		{"str value then paren", "ka.x = foo(a)", Options{}, 10, "unexpected token after 'foo', expecting 'or', 'and'"},
		{"list bare non-identifier", "ka.x in a.b", Options{}, 8, "unexpected 'a.b' after 'in', expected a list, an identifier, a transformer or val()"},
		{"list quoted", `ka.x in "a"`, Options{}, 8, `unexpected quoted string "a" after 'in', expected a list, an identifier, a transformer or val()`},
		{"list at end", "ka.x in ", Options{}, 8, "unexpected end of input after 'in', expected a list, an identifier, a transformer or val()"},

		// Lists.
		{"list trailing comma", "ka.x in (a,)", Options{}, 11, "unexpected ')' in list, expected value"},
		{"list leading comma", "ka.x in (,)", Options{}, 9, "unexpected ',' in list, expected value or ')'"},
		{"list double comma", "ka.x in (a,,b)", Options{}, 11, "unexpected ',' in list, expected value"},
		{"list missing comma", "ka.x in (a b)", Options{}, 11, "unexpected 'b' in list, expected ',' or ')'"},
		{"list unclosed", "ka.x in (a", Options{}, 10, "unexpected end of input in list, expected ',' or ')'"},
		{"list nested", "ka.x in ((a))", Options{}, 9, "unexpected '(' in list, expected value or ')'"},
		{"list transformer", "ka.x in (tolower(ka.y))", Options{}, 9, "unexpected 'tolower(' in list, expected value or ')'"},
		{"list equals", "ka.x in (a=b)", Options{}, 10, "unexpected '=' in list, expected ',' or ')'"},
		{"modifier unclosed", "ka.x contains anyof (a", Options{}, 22, "unexpected end of input in list, expected ',' or ')'"},

		// Transformers and val().
		{"transformer bad arg", "tolower(a) = b", Options{}, 8, "unexpected 'a' in tolower(), expected a field or a transformer"},
		{"transformer unclosed", "tolower(ka.x = b", Options{}, 13, "unexpected '=' in tolower(), expected ')'"},
		{"transformer val inside", "tolower(val(ka.x)) = a", Options{}, 8, "unexpected 'val(' in tolower(), expected a field or a transformer"},
		{"transformer at end", "ka.x = tolower(", Options{}, 15, "unexpected end of input in tolower(), expected a field or a transformer"},
		{"val bad arg", "ka.x = val(a)", Options{}, 11, "unexpected 'a' in val(), expected a field or a transformer"},
		{"val unclosed", "ka.x = val(ka.y", Options{}, 15, "unexpected end of input in val(), expected ')'"},
		{"val nested val", "ka.x = val(val(ka.y))", Options{}, 11, "unexpected 'val(' in val(), expected a field or a transformer"},

		// Strings and escapes.
		{"unterminated", `ka.x = "abc`, Options{}, 7, "unterminated quoted string"},
		{"unterminated single", `ka.x in ('a, b)`, Options{}, 9, "unterminated quoted string"},
		{"unterminated escaped quote", `ka.x = "a\"`, Options{}, 7, "unterminated quoted string"},
		{"unsupported escape", `ka.x = "a\d"`, Options{}, 9, `unsupported string escape sequence: \d`},
		{"unsupported escape control", "ka.x = \"\\\x01\"", Options{}, 8, `unsupported string escape sequence: backslash before byte 0x01`},
		{"single escape in double", `ka.x = "a\'"`, Options{}, 9, `invalid \' escape in "-quoted string`},
		{"double escape in single", `ka.x = 'a\"'`, Options{}, 9, `invalid \" escape in '-quoted string`},
		{"short hex escape", `ka.x = "\x4"`, Options{}, 8, `invalid \x escape: expected two hex digits`},
		{"bad hex escape", `ka.x = "\xZZ"`, Options{}, 8, `invalid \x escape: expected two hex digits`},
		{"escape in list", `ka.x in (a, "\q")`, Options{}, 13, `unsupported string escape sequence: \q`},
		{"escape with base", `ka.x = "\q"`, Options{Base: 100}, 108, `unsupported string escape sequence: \q`},

		// Field arguments.
		{"arg unterminated", "ka.x[abc exists", Options{}, 4, "unterminated field argument"},
		{"arg unbalanced", "ka.x[a[b] exists", Options{}, 4, "unterminated field argument"},
		{"arg quoted then more", `ka.x["a" ] exists`, Options{}, 8, "expected ']' after quoted field argument"},
		{"arg quoted unterminated", `ka.x["a] exists`, Options{}, 5, "unterminated quoted string"},
		{"arg bad escape", `ka.x["\q"] exists`, Options{}, 6, `unsupported string escape sequence: \q`},
		{"arg in transformer", "tolower(ka.x[a) = b", Options{}, 12, "unterminated field argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Parse(tc.input, tc.opts)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error", tc.input, n)
			}
			if n != nil {
				t.Errorf("Parse(%q) returned a node with its error", tc.input)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error is %T, want *Error", tc.input, err)
			}
			if perr.Msg != tc.msg || perr.Pos != tc.pos {
				t.Errorf("Parse(%q) error\n got: %d: %s\nwant: %d: %s", tc.input, perr.Pos, perr.Msg, tc.pos, tc.msg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("a b", Options{Base: 40})
	want := "42: unexpected token after 'a', expecting 'or', 'and'"
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %v, want %q", err, want)
	}
}

func TestDepthLimitExact(t *testing.T) {
	nest := func(n int) string {
		return strings.Repeat("(", n) + "a" + strings.Repeat(")", n)
	}
	if _, err := Parse(nest(DefaultMaxDepth), Options{}); err != nil {
		t.Errorf("depth %d: %v", DefaultMaxDepth, err)
	}
	if _, err := Parse(nest(5), Options{MaxDepth: 5}); err != nil {
		t.Errorf("depth 5 with MaxDepth 5: %v", err)
	}
	if _, err := Parse(nest(6), Options{MaxDepth: 5}); err == nil {
		t.Errorf("depth 6 with MaxDepth 5: no error")
	}
	if _, err := Parse(strings.Repeat("a", DefaultMaxLen), Options{}); err != nil {
		t.Errorf("DefaultMaxLen bytes: %v", err)
	}
}

func TestIsOperator(t *testing.T) {
	for _, op := range []string{
		"exists", "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains",
		"startswith", "bstartswith", "endswith", "glob", "iglob", "regex", "in", "intersects",
		"pmatch", "contains anyof", "= oneof", "== allof", "glob anyof",
	} {
		if !IsOperator(op) {
			t.Errorf("IsOperator(%q) = false", op)
		}
	}
	for _, op := range []string{
		"", "and", "not", "===", "=>", "CONTAINS", "contains ", "in anyof", "contains  anyof",
		"exists anyof", "anyof", "val", "tolower",
	} {
		if IsOperator(op) {
			t.Errorf("IsOperator(%q) = true", op)
		}
	}
}

// TestParseOperators checks that every operator the error message lists
// parses, and that IsOperator accepts it.
func TestParseOperators(t *testing.T) {
	for _, op := range []string{"exists", "<=", "<", ">=", ">", "==", "=", "!=", "glob", "iglob",
		"contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith", "regex",
		"intersects", "in", "pmatch"} {
		var input string
		switch {
		case op == "exists":
			input = "ka.x exists"
		case isNumOp(op):
			input = "ka.x " + op + " 1"
		case isListOp(op):
			input = "ka.x " + op + " (a)"
		default:
			input = "ka.x " + op + " a"
		}
		n, err := Parse(input, Options{})
		if err != nil {
			t.Errorf("Parse(%q): %v", input, err)
			continue
		}
		want := op
		if op == "==" {
			want = "="
		}
		if got := n.(*CheckNode).Op; got != want {
			t.Errorf("Parse(%q).Op = %q, want %q", input, got, want)
		}
		if !IsOperator(op) {
			t.Errorf("IsOperator(%q) = false", op)
		}
	}
}

// TestPrintConstructed checks printing of trees not made by Parse: values
// that cannot be bare are quoted.
func TestPrintConstructed(t *testing.T) {
	f := &FieldNode{Name: "ka.x"}
	tests := []struct {
		node Node
		want string
	}{
		{&CheckNode{Left: f, Op: "=", Right: &ValueNode{Text: "a b"}}, `ka.x = "a b"`},
		{&CheckNode{Left: f, Op: "=", Right: &ValueNode{Text: ""}}, `ka.x = ""`},
		{&CheckNode{Left: f, Op: "in", Right: &ListNode{Bare: true, Items: []*ValueNode{{Text: "a/b"}}}}, `ka.x in (a/b)`},
		{&CheckNode{Left: &FieldNode{Name: "ka.x", HasArg: true, Arg: "a]"}, Op: "exists"}, `ka.x["a]"] exists`},
		{&CheckNode{Left: &FieldNode{Name: "ka.x", HasArg: true, Arg: "a\nb"}, Op: "exists"}, `ka.x["a\nb"] exists`},
		{&BinaryNode{Op: And, Children: []Node{&IdentNode{Name: "a"}, &BinaryNode{Op: And, Children: []Node{&IdentNode{Name: "b"}, &IdentNode{Name: "c"}}}}}, "a and (b and c)"},
		{&BinaryNode{Op: Or, Children: []Node{&NotNode{X: &BinaryNode{Op: Or, Children: []Node{&IdentNode{Name: "b"}, &IdentNode{Name: "c"}}}}, &IdentNode{Name: "d"}}}, "not (b or c) or d"},
	}
	for _, tc := range tests {
		if got := tc.node.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
		checkRoundTrip(t, tc.want)
	}
}
