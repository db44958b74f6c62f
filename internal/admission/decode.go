package admission

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// Default limits.
const (
	DefaultMaxBodyBytes = 12 << 20 // 12 MiB: well above the API server's 3 MiB object limit, twice (object and oldObject)
	DefaultMaxDepth     = 100      // nesting of the whole review; Kubernetes objects are far shallower
)

// AdmissionReview API versions.
const (
	V1      = "admission.k8s.io/v1"
	V1beta1 = "admission.k8s.io/v1beta1"
)

// ErrTooLarge is wrapped by the error Decode returns for a body larger than
// Options.MaxBodyBytes, so that a server can answer 413.
var ErrTooLarge = errors.New("admission review larger than the body size limit")

// Options bound what Decode accepts. Zero values mean the defaults.
type Options struct {
	MaxBodyBytes int // largest body in bytes; DefaultMaxBodyBytes when 0
	MaxDepth     int // deepest nesting of objects and arrays in the body; DefaultMaxDepth when 0
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// Review holds what Decode read from an AdmissionReview request.
type Review struct {
	APIVersion  string   // admission.k8s.io/v1 or admission.k8s.io/v1beta1, echoed in the response
	UID         string   // request.uid, echoed in the response
	Operation   string   // CREATE, UPDATE, DELETE or CONNECT
	Group       string   // request.resource.group; empty for the core group
	Version     string   // request.resource.version
	Resource    string   // request.resource.resource, such as pods
	SubResource string   // request.subResource, such as exec; often empty
	Namespace   string   // request.namespace; for a Namespace object, its own name
	Name        string   // request.name, else oldObject.metadata.name, else object.metadata.name
	Kind        string   // request.kind.kind, such as Pod or PodExecOptions
	User        string   // request.userInfo.username: the effective user, after impersonation
	Groups      []string // request.userInfo.groups
	DryRun      bool     // request.dryRun
}

// review is the raw material of one decoded review.
type review struct {
	Review
	userUID   string // request.userInfo.uid
	extra     []byte // request.userInfo.extra, an object, or nil
	object    []byte // request.object, an object, or nil when absent or null
	oldObject []byte // request.oldObject, an object, or nil when absent or null
	options   []byte // request.options, an object, or nil
}

// Decode parses an AdmissionReview request body and returns the review and
// the synthesized audit event as compact JSON (see the package doc for the
// mapping). now is the time the request was received; it becomes the
// event's timestamps. Errors name what is wrong and where: a byte offset for
// malformed JSON, a member path otherwise.
func Decode(body []byte, now time.Time, o Options) (*Review, []byte, error) {
	o = o.withDefaults()
	var r review
	if err := r.parse(body, o); err != nil {
		return nil, nil, err
	}
	if y := now.UTC().Year(); y < 0 || y > 9999 {
		return nil, nil, fmt.Errorf("receive time %d is outside years 0 to 9999", y)
	}
	ev := appendEvent(make([]byte, 0, eventSize(&r)), &r, now)
	return &r.Review, ev, nil
}

// parse validates body and fills r.
func (r *review) parse(body []byte, o Options) error {
	if len(body) > o.MaxBodyBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), o.MaxBodyBytes)
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("admission review is not valid UTF-8 at offset %d", invalidUTF8(body))
	}
	if err := rawjson.Valid(body, o.MaxDepth); err != nil {
		return fmt.Errorf("parse admission review: %w", err)
	}
	top := trimWS(body)
	if k := rawjson.KindOf(top); k != rawjson.Object {
		return fmt.Errorf("admission review is %s, want an object", kindName(k))
	}

	var kind, apiVersion, request []byte
	m := rawjson.MembersOf(top)
	for {
		k, v, ok := m.Next()
		if !ok {
			break
		}
		var kb [32]byte
		switch string(keyText(kb[:0], k)) {
		case "kind":
			kind = first(kind, v)
		case "apiVersion":
			apiVersion = first(apiVersion, v)
		case "request":
			request = first(request, v)
		}
	}
	s, err := requiredString("kind", kind)
	if err != nil {
		return err
	}
	if s != "AdmissionReview" {
		return fmt.Errorf("kind is %q, want \"AdmissionReview\"", s)
	}
	if r.APIVersion, err = requiredString("apiVersion", apiVersion); err != nil {
		return err
	}
	if r.APIVersion != V1 && r.APIVersion != V1beta1 {
		return fmt.Errorf("apiVersion is %q, want %q or %q", r.APIVersion, V1, V1beta1)
	}
	if request == nil {
		return errors.New("missing member request")
	}
	if k := rawjson.KindOf(request); k != rawjson.Object {
		return fmt.Errorf("request is %s, want an object", kindName(k))
	}
	return r.parseRequest(request)
}

// parseRequest reads the members of request in one pass.
func (r *review) parseRequest(request []byte) error {
	var uid, op, kind, resource, sub, name, ns, user, object, oldObject, dryRun, options []byte
	m := rawjson.MembersOf(request)
	for {
		k, v, ok := m.Next()
		if !ok {
			break
		}
		var kb [32]byte
		switch string(keyText(kb[:0], k)) {
		case "uid":
			uid = first(uid, v)
		case "operation":
			op = first(op, v)
		case "kind":
			kind = first(kind, v)
		case "resource":
			resource = first(resource, v)
		case "subResource":
			sub = first(sub, v)
		case "name":
			name = first(name, v)
		case "namespace":
			ns = first(ns, v)
		case "userInfo":
			user = first(user, v)
		case "object":
			object = first(object, v)
		case "oldObject":
			oldObject = first(oldObject, v)
		case "dryRun":
			dryRun = first(dryRun, v)
		case "options":
			options = first(options, v)
		}
	}

	var err error
	if r.UID, err = requiredString("request.uid", uid); err != nil {
		return err
	}
	if r.UID == "" {
		return errors.New("request.uid is empty")
	}
	if r.Operation, err = requiredString("request.operation", op); err != nil {
		return err
	}
	if _, ok := verbOf(r.Operation); !ok {
		return fmt.Errorf("request.operation is %q, want CREATE, UPDATE, DELETE or CONNECT", r.Operation)
	}
	if err := r.parseResource(resource); err != nil {
		return err
	}
	if kind, err = optionalObject("request.kind", kind); err != nil {
		return err
	}
	if kind != nil {
		v, _ := rawjson.Get(kind, "kind")
		if r.Kind, err = optionalString("request.kind.kind", v); err != nil {
			return err
		}
	}
	if r.SubResource, err = optionalString("request.subResource", sub); err != nil {
		return err
	}
	if r.Name, err = optionalString("request.name", name); err != nil {
		return err
	}
	if r.Namespace, err = optionalString("request.namespace", ns); err != nil {
		return err
	}
	if err := r.parseUser(user); err != nil {
		return err
	}
	if r.object, err = optionalObject("request.object", object); err != nil {
		return err
	}
	if r.oldObject, err = optionalObject("request.oldObject", oldObject); err != nil {
		return err
	}
	if r.options, err = optionalObject("request.options", options); err != nil {
		return err
	}
	switch k := rawjson.KindOf(dryRun); k {
	case rawjson.Invalid, rawjson.Null:
	case rawjson.Bool:
		r.DryRun = dryRun[0] == 't'
	default:
		return fmt.Errorf("request.dryRun is %s, want a boolean", kindName(k))
	}
	if r.Name == "" {
		if r.Name, err = metadataName("request.oldObject", r.oldObject); err != nil {
			return err
		}
	}
	if r.Name == "" {
		if r.Name, err = metadataName("request.object", r.object); err != nil {
			return err
		}
	}
	return nil
}

// parseResource reads request.resource, a GroupVersionResource.
func (r *review) parseResource(v []byte) error {
	if v == nil {
		return errors.New("missing member request.resource")
	}
	if k := rawjson.KindOf(v); k != rawjson.Object {
		return fmt.Errorf("request.resource is %s, want an object", kindName(k))
	}
	g, _ := rawjson.Get(v, "group")
	ver, _ := rawjson.Get(v, "version")
	res, _ := rawjson.Get(v, "resource")
	var err error
	if r.Group, err = optionalString("request.resource.group", g); err != nil {
		return err
	}
	if r.Version, err = requiredString("request.resource.version", ver); err != nil {
		return err
	}
	if r.Version == "" {
		return errors.New("request.resource.version is empty")
	}
	if r.Resource, err = requiredString("request.resource.resource", res); err != nil {
		return err
	}
	if r.Resource == "" {
		return errors.New("request.resource.resource is empty")
	}
	return nil
}

// parseUser reads request.userInfo, an authentication/v1 UserInfo.
func (r *review) parseUser(v []byte) error {
	if v == nil {
		return errors.New("missing member request.userInfo")
	}
	if k := rawjson.KindOf(v); k != rawjson.Object {
		return fmt.Errorf("request.userInfo is %s, want an object", kindName(k))
	}
	name, _ := rawjson.Get(v, "username")
	uid, _ := rawjson.Get(v, "uid")
	groups, _ := rawjson.Get(v, "groups")
	extra, _ := rawjson.Get(v, "extra")
	var err error
	if r.User, err = requiredString("request.userInfo.username", name); err != nil {
		return err
	}
	if r.userUID, err = optionalString("request.userInfo.uid", uid); err != nil {
		return err
	}
	switch k := rawjson.KindOf(groups); k {
	case rawjson.Invalid, rawjson.Null:
	case rawjson.Array:
		r.Groups = make([]string, 0, rawjson.Len(groups))
		e := rawjson.ElementsOf(groups)
		for i := 0; ; i++ {
			g, ok := e.Next()
			if !ok {
				break
			}
			if k := rawjson.KindOf(g); k != rawjson.String {
				return fmt.Errorf("request.userInfo.groups[%d] is %s, want a string", i, kindName(k))
			}
			r.Groups = append(r.Groups, str(g))
		}
	default:
		return fmt.Errorf("request.userInfo.groups is %s, want an array", kindName(k))
	}
	if r.extra, err = optionalObject("request.userInfo.extra", extra); err != nil {
		return err
	}
	m := rawjson.MembersOf(r.extra)
	for {
		k, vals, ok := m.Next()
		if !ok {
			break
		}
		if kd := rawjson.KindOf(vals); kd != rawjson.Array && kd != rawjson.Null {
			return fmt.Errorf("request.userInfo.extra[%q] is %s, want an array", keyString(k), kindName(kd))
		}
		e := rawjson.ElementsOf(vals)
		for i := 0; ; i++ {
			s, ok := e.Next()
			if !ok {
				break
			}
			if kd := rawjson.KindOf(s); kd != rawjson.String {
				return fmt.Errorf("request.userInfo.extra[%q][%d] is %s, want a string", keyString(k), i, kindName(kd))
			}
		}
	}
	return nil
}

// metadataName returns obj.metadata.name, or "" when obj is nil or has none.
func metadataName(path string, obj []byte) (string, error) {
	md, ok := rawjson.Get(obj, "metadata")
	if !ok || rawjson.KindOf(md) == rawjson.Null {
		return "", nil
	}
	if k := rawjson.KindOf(md); k != rawjson.Object {
		return "", fmt.Errorf("%s.metadata is %s, want an object", path, kindName(k))
	}
	v, _ := rawjson.Get(md, "name")
	return optionalString(path+".metadata.name", v)
}

// verbOf returns the audit verb for an admission operation.
func verbOf(op string) (string, bool) {
	switch op {
	case "CREATE", "CONNECT":
		return "create", true
	case "UPDATE":
		return "update", true
	case "DELETE":
		return "delete", true
	}
	return "", false
}

// first keeps the first occurrence of a duplicated member, as the audit
// decoder does.
func first(have, v []byte) []byte {
	if have != nil {
		return have
	}
	return v
}

// keyString returns the unescaped text of a raw member key.
func keyString(raw []byte) string {
	var kb [32]byte
	return string(keyText(kb[:0], raw))
}

// keyText appends the unescaped text of a raw member key to dst. Keys
// without escapes are returned as they are, without copying.
func keyText(dst, raw []byte) []byte {
	for _, c := range raw {
		if c == '\\' {
			return rawjson.AppendString(dst, append(append([]byte{'"'}, raw...), '"'))
		}
	}
	return raw
}

// str returns the text of a validated string value.
func str(v []byte) string {
	if rawjson.IsPlainString(v) {
		return string(v[1 : len(v)-1])
	}
	return string(rawjson.AppendString(nil, v))
}

func requiredString(path string, v []byte) (string, error) {
	if v == nil {
		return "", fmt.Errorf("missing member %s", path)
	}
	if k := rawjson.KindOf(v); k != rawjson.String {
		return "", fmt.Errorf("%s is %s, want a string", path, kindName(k))
	}
	return str(v), nil
}

// optionalString returns "" for an absent or null member.
func optionalString(path string, v []byte) (string, error) {
	switch k := rawjson.KindOf(v); k {
	case rawjson.Invalid, rawjson.Null:
		return "", nil
	case rawjson.String:
		return str(v), nil
	default:
		return "", fmt.Errorf("%s is %s, want a string", path, kindName(k))
	}
}

// optionalObject returns nil for an absent or null member.
func optionalObject(path string, v []byte) ([]byte, error) {
	switch k := rawjson.KindOf(v); k {
	case rawjson.Invalid, rawjson.Null:
		return nil, nil
	case rawjson.Object:
		return v, nil
	default:
		return nil, fmt.Errorf("%s is %s, want an object", path, kindName(k))
	}
}

func kindName(k rawjson.Kind) string {
	switch k {
	case rawjson.Null:
		return "null"
	case rawjson.Bool:
		return "a boolean"
	case rawjson.Number:
		return "a number"
	case rawjson.String:
		return "a string"
	case rawjson.Array:
		return "an array"
	case rawjson.Object:
		return "an object"
	}
	return "empty"
}

func trimWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// invalidUTF8 returns the offset of the first byte that is not part of a
// valid UTF-8 sequence.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
