package web

import (
	"net/http"
	"strings"

	"github.com/convene/convene/service"
)

// The record for those who took part (000 §7, 001, 002 §1): the link in
// the record's circulation email leads here after the one-time code (a
// partner from another agency) or straight here (signed in), and each
// agency's representative agrees with the record or disagrees, with a
// reason, which is flagged to the chair and business support.

// recordForParticipant shows the record to someone who took part, with
// their agency's answer form. GET changes nothing.
func (s *Server) recordForParticipant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sess, err := s.invitationSession(w, r, id)
	if sess == nil {
		return err
	}
	p, err := s.participantRecordPage(r, sess, id)
	if err != nil {
		return err
	}
	p.Banner = map[string]string{"agree": "Your agency's agreement is recorded. Thank you.",
		"dissent": "Your agency's disagreement is recorded and sent to the chair and business support."}[r.URL.Query().Get("done")]
	return s.render(w, r, http.StatusOK, "record.html", p)
}

// signRecord records the participant's agency's answer to the record.
func (s *Server) signRecord(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sess, err := s.invitationSession(w, r, id)
	if sess == nil {
		return err
	}
	decision, reason := r.PostForm.Get("decision"), strings.TrimSpace(r.PostForm.Get("reason"))
	var errs []FieldError
	if decision != service.DecisionAgree && decision != service.DecisionDissent {
		errs = append(errs, FieldError{Field: "decision", Message: "Choose whether your agency agrees with the record"})
	}
	if decision == service.DecisionDissent && reason == "" {
		errs = append(errs, FieldError{Field: "reason", Message: "Say why your agency disagrees with the record"})
	}
	if len(reason) > 2000 {
		errs = append(errs, FieldError{Field: "reason", Message: "Give the reason in 2,000 characters or fewer"})
	}
	reshow := func(err error) error {
		p, perr := s.participantRecordPage(r, sess, id)
		if perr != nil {
			return perr
		}
		p.Errors = errs
		return s.refuse(w, r, "record.html", p, err)
	}
	if len(errs) > 0 {
		return reshow(nil)
	}
	ctx := service.WithPrincipal(r.Context(), &sess.Principal)
	if _, err := s.app.SignRecord(ctx, id, "", decision, reason); err != nil {
		switch service.ErrorCode(err) {
		case service.EINVALID, service.EPRECONDITION, service.ECONFLICT, service.EFORBIDDEN:
			return reshow(err)
		}
		return err
	}
	http.Redirect(w, r, "/records/"+id+"?done="+decision+"#answer", http.StatusSeeOther)
	return nil
}

// participantRecordPage is the record page for the session's person.
func (s *Server) participantRecordPage(r *http.Request, sess *service.Session, id string) (*Page, error) {
	ctx := service.WithPrincipal(r.Context(), &sess.Principal)
	rec, err := s.app.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	v := s.recordViewOf(rec)
	v.Partner = sess.Partner
	// Asked are the agencies the record went to for sign-up; the person
	// answers for theirs (the App checks it is theirs when they answer).
	for _, su := range rec.Signups {
		if su.Version == rec.Version && (sess.Principal.Agency == "" || su.Agency == sess.Principal.Agency) {
			v.CanSign, v.SignAgency = true, s.agency(su.Agency)
			break
		}
	}
	p := &Page{Title: "Record of Strategy Discussion, case " + rec.CaseReference, Data: v}
	if !sess.Partner {
		p.Back = "/invitations"
	}
	return p, nil
}
