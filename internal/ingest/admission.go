package ingest

import (
	"errors"
	"net/http"
	"time"

	"github.com/vigilsec/vigil/internal/admission"
	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/redact"
)

// AdmissionOptions configure POST /admission.
type AdmissionOptions struct {
	// Decide, when set (enforce mode), evaluates the synthesized event and
	// says whether to refuse the request, naming the rule and giving its
	// output as the message.
	Decide  func(event []byte, cluster string) (deny bool, rule, message string)
	Timeout time.Duration // longest wait to record a review before answering without it
	Decode  admission.Options
}

// AdmissionHandler serves POST /admission.
func (s *Server) AdmissionHandler() http.Handler { return s.instrument("admission", s.admission) }

func (s *Server) admission(w http.ResponseWriter, r *http.Request) {
	cluster, now, body, ok := s.begin(w, r, "admission")
	if !ok {
		return
	}
	defer s.putBody(body)
	m := s.o.Metrics
	review, event, err := admission.Decode(body.Bytes(), now, s.o.Admission.Decode)
	if err != nil {
		if m != nil {
			m.EventsRejected.WithLabelValues(cluster, "admission", "malformed_review").Inc()
		}
		s.o.Logger.Warn("bad admission review", "cluster", cluster, "err", err)
		if errors.Is(err, admission.ErrTooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		httpError(w, http.StatusBadRequest, "bad AdmissionReview: "+err.Error())
		return
	}
	if !s.o.DisableRedact {
		event, _ = redact.Event(event)
	}
	if m != nil {
		m.EventsReceived.WithLabelValues(cluster, "admission").Inc()
	}

	// Record first, so that a denied request is on record too. In detect
	// mode a review that cannot be recorded in time is still allowed: an
	// admission webhook must not stall the cluster. It is counted.
	enc := s.encs.Get().(*batch.Encoder)
	defer s.encs.Put(enc)
	enc.Reset(batch.Header{Capture: batch.Admission, Received: now.UnixNano(), Cluster: cluster})
	enc.Add(event)
	if err := s.record(enc.Bytes()); err != nil {
		if m != nil {
			m.AdmissionFails.WithLabelValues(err.Error()).Inc()
		}
		if s.logEvery(&s.lastAdmissionLog, 10*time.Second) {
			s.o.Logger.Error("admission review allowed without being recorded (logged at most every 10s; vigil_admission_unrecorded_total counts them all)",
				"cluster", cluster, "uid", review.UID, "reason", err.Error())
		}
	} else if m != nil {
		m.EventsAccepted.WithLabelValues(cluster, "admission").Inc()
		m.Seen(cluster, now)
	}

	allowed, msg := true, ""
	if s.o.Admission.Decide != nil && !review.DryRun {
		if deny, rule, message := s.o.Admission.Decide(event, cluster); deny {
			allowed, msg = false, message
			if m != nil {
				m.AdmissionDeny.WithLabelValues(rule).Inc()
			}
			s.o.Logger.Info("admission request denied", "cluster", cluster, "rule", rule, "uid", review.UID,
				"user", review.User, "operation", review.Operation, "resource", review.Resource, "namespace", review.Namespace, "name", review.Name)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(admission.Response(review, allowed, 403, msg, nil))
}

// record appends an admission record within the admission timeout. The
// error, if any, is a metric reason.
func (s *Server) record(rec []byte) error {
	timeout := s.o.Admission.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := contextWithTimeout(timeout)
	defer cancel()
	// The review is answered once its record is in the log file, waiting
	// for the fsync at most admissionSyncWait: under a heavy webhook load
	// the shared fsync takes longer than an admission answer may.
	_, _, _, err := s.o.Log.AppendWithin(ctx, admissionSyncWait, rec)
	if err == nil {
		return nil
	}
	return errors.New(appendReason(err))
}

// admissionSyncWait bounds the wait for the fsync of an admission record.
const admissionSyncWait = 4 * time.Millisecond
