package admission

import "strconv"

// Response returns the AdmissionReview response body for r:
//
//	{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
//	 "response":{"uid":"…","allowed":false,"status":{"code":403,"message":"…"},"warnings":["…"]}}
//
// apiVersion is r.APIVersion (v1 unless it is v1beta1) and uid echoes
// r.UID; a nil r gives v1 and an empty uid, which the API server rejects.
// status is present only when allowed is false; code 0 then means 403.
// warnings is left out when empty. The API server shows warnings to the
// client, so they must not contain secrets either.
func Response(r *Review, allowed bool, code int32, message string, warnings []string) []byte {
	apiVersion, uid := V1, ""
	if r != nil {
		uid = r.UID
		if r.APIVersion == V1beta1 {
			apiVersion = V1beta1
		}
	}
	b := make([]byte, 0, 128+len(uid)+len(message)+32*len(warnings))
	b = append(b, `{"apiVersion":`...)
	b = appendString(b, apiVersion)
	b = append(b, `,"kind":"AdmissionReview","response":{"uid":`...)
	b = appendString(b, uid)
	if allowed {
		b = append(b, `,"allowed":true`...)
	} else {
		if code == 0 {
			code = 403
		}
		b = append(b, `,"allowed":false,"status":{"code":`...)
		b = strconv.AppendInt(b, int64(code), 10)
		if message != "" {
			b = append(b, `,"message":`...)
			b = appendString(b, message)
		}
		b = append(b, '}')
	}
	if len(warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...)
}
