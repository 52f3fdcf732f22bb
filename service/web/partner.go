package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/convene/convene/service"
)

// A partner from another agency (police, health, a school) has no council
// account. They open the signed link from their invitation; before
// anything about the case is shown, Convene emails a one-time code to the
// address the invitation went to, and the session that code confirms is
// bound to that person and that discussion only.
const (
	codeDigits   = 6
	codeTTL      = 10 * time.Minute
	codeAttempts = 5
	// codeSends is how many codes one sign-in may send; codeResend how
	// long after one the next may go (per address, across instances: a
	// lease in the store).
	codeSends  = 5
	codeResend = time.Minute
)

func (s *Server) partnerRoutes() {
	s.page("GET /invitation/{token}", s.invitationLink)
	// The links in invitations already sent.
	s.page("GET /v1/rsvp/{token}", s.invitationLink)
	// The links in the record's circulation emails: the same code, then
	// the record and its sign-up (partnerrecord.go).
	s.page("GET /record/{token}", s.invitationLink)
	s.page("GET /records/{id}", s.recordForParticipant)
	s.page("POST /records/{id}", s.signRecord)
	s.page("POST /invitation/{token}/code", s.sendCode)
	s.page("GET /invitation/{token}/code", s.codeForm)
	s.page("POST /invitation/{token}/confirm", s.confirmCode)
	s.page("GET /invitations", s.invitations)
	s.page("GET /invitations/{id}", s.invitation)
	s.page("POST /invitations/{id}", s.answer)
}

// codeData is what the code pages show: where the code goes, masked, and
// nothing of the case.
type codeData struct {
	Token    string
	Masked   string
	Sent     bool
	Attempts int
}

// invitationLink opens a signed invitation link. It changes nothing (mail
// scanners open every link): someone already confirmed for this
// discussion goes straight to the invitation; anyone else is offered a
// code by email.
func (s *Server) invitationLink(w http.ResponseWriter, r *http.Request) error {
	token, link, err := s.openLink(w, r, true)
	if link == nil {
		return err
	}
	if sess := sessionFrom(r.Context()); sess != nil && sess.Confirmed && strings.EqualFold(sess.Principal.Email, link.Email) &&
		(!sess.Partner || sess.DiscussionID == link.DiscussionID) {
		http.Redirect(w, r, linkTarget(link), http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, "code.html", &Page{Title: "Confirm it is you",
		Data: codeData{Token: token, Masked: maskEmail(link.Email)}})
}

// sendCode emails a one-time code to the invitation's address and starts
// a sign-in waiting for it.
func (s *Server) sendCode(w http.ResponseWriter, r *http.Request) error {
	token, link, err := s.openLink(w, r, true)
	if link == nil {
		return err
	}
	now := s.cfg.Now()
	sess := sessionFrom(r.Context())
	pending := sess != nil && sess.Partner && !sess.Confirmed && sess.DiscussionID == link.DiscussionID &&
		strings.EqualFold(sess.Principal.Email, link.Email)
	if pending && sess.CodeSends >= codeSends {
		return service.Errorf(service.ETOOMANY, "too many codes were sent; wait an hour, or ask business support to send the invitation again")
	}
	// One code a minute to an address, whichever instance sends it.
	ok, err := s.app.Store.AcquireLease(r.Context(), "sign-in-code:"+hashOf(strings.ToLower(link.Email)), newToken(), now, codeResend)
	if err != nil {
		return err
	}
	if !ok {
		p := &Page{Title: "Confirm it is you", Data: codeData{Token: token, Masked: maskEmail(link.Email), Sent: pending},
			Errors: []FieldError{{Message: "A code was sent less than a minute ago. Check your email, or wait a minute and ask again."}}}
		return s.render(w, r, http.StatusTooManyRequests, "code.html", p)
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	if !pending {
		agency := service.Agency("")
		if p, err := s.app.Store.PersonByEmail(r.Context(), strings.ToLower(link.Email)); err == nil {
			agency = p.Agency
		}
		sess = &service.Session{Partner: true, DiscussionID: link.DiscussionID,
			Principal: service.Principal{Subject: "partner:" + strings.ToLower(link.Email), Name: link.Name,
				Email: strings.ToLower(link.Email), Roles: []service.Role{service.RoleAgencyRep}, Agency: agency}}
		if err := s.startSession(w, r, sess); err != nil {
			return err
		}
	}
	sess.CodeHash = codeHash(s.sessionToken(r, sess), code)
	sess.CodeExpiresAt, sess.CodeAttempts, sess.CodeSentAt = now.Add(codeTTL), 0, now
	sess.CodeSends++
	if err := s.sessions.UpdateSession(r.Context(), sess); err != nil {
		return err
	}
	if err := s.app.SendSignInCode(r.Context(), link.DiscussionID, link.Email, code, codeTTL); err != nil {
		return err
	}
	http.Redirect(w, r, "/invitation/"+token+"/code", http.StatusSeeOther)
	return nil
}

// codeForm asks for the code that was sent.
func (s *Server) codeForm(w http.ResponseWriter, r *http.Request) error {
	token, link, err := s.openLink(w, r, false)
	if link == nil {
		return err
	}
	sess := sessionFrom(r.Context())
	if sess == nil || !sess.Partner || sess.DiscussionID != link.DiscussionID || sess.CodeHash == "" {
		http.Redirect(w, r, "/invitation/"+token, http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, "code.html", &Page{Title: "Enter the code we sent you",
		Data: codeData{Token: token, Masked: maskEmail(link.Email), Sent: true, Attempts: codeAttempts - sess.CodeAttempts}})
}

// confirmCode checks the code; the right one turns the waiting sign-in
// into a session for this person and this discussion (under a new id).
func (s *Server) confirmCode(w http.ResponseWriter, r *http.Request) error {
	token, link, err := s.openLink(w, r, false)
	if link == nil {
		return err
	}
	sess := sessionFrom(r.Context())
	if sess == nil || !sess.Partner || sess.Confirmed || sess.DiscussionID != link.DiscussionID || sess.CodeHash == "" ||
		!strings.EqualFold(sess.Principal.Email, link.Email) {
		http.Redirect(w, r, "/invitation/"+token, http.StatusSeeOther)
		return nil
	}
	page := func(msg string) *Page {
		return &Page{Title: "Enter the code we sent you", Form: r.PostForm, Errors: []FieldError{{Field: "code", Message: msg}},
			Data: codeData{Token: token, Masked: maskEmail(link.Email), Sent: true, Attempts: codeAttempts - sess.CodeAttempts}}
	}
	now := s.cfg.Now()
	if sess.CodeAttempts >= codeAttempts {
		return s.render(w, r, http.StatusTooManyRequests, "code.html", page("You have entered a wrong code too many times. Ask for a new code."))
	}
	if now.After(sess.CodeExpiresAt) {
		return s.render(w, r, http.StatusUnprocessableEntity, "code.html", page("The code has expired. Ask for a new code."))
	}
	entered := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	if len(entered) != codeDigits || strings.Trim(entered, "0123456789") != "" {
		return s.render(w, r, http.StatusUnprocessableEntity, "code.html", page(fmt.Sprintf("Enter the %d-digit code from the email", codeDigits)))
	}
	// Every attempt is counted before the code is compared, guarded by the
	// session's version: two attempts at once cannot both be free.
	sess.CodeAttempts++
	if err := s.sessions.UpdateSession(r.Context(), sess); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(codeHash(s.sessionToken(r, sess), entered)), []byte(sess.CodeHash)) != 1 {
		left := codeAttempts - sess.CodeAttempts
		msg := fmt.Sprintf("The code is not right. You can try %d more times", left)
		if left == 1 {
			msg = "The code is not right. You can try once more"
		} else if left <= 0 {
			msg = "You have entered a wrong code too many times. Ask for a new code"
		}
		return s.render(w, r, http.StatusUnprocessableEntity, "code.html", page(msg))
	}
	confirmed := &service.Session{Principal: sess.Principal, Partner: true, DiscussionID: sess.DiscussionID, Confirmed: true}
	if err := s.startSession(w, r, confirmed); err != nil {
		return err
	}
	if err := s.app.AuditSignIn(service.WithPrincipal(r.Context(), &confirmed.Principal), service.SignInCode, confirmed.DiscussionID); err != nil {
		return err
	}
	http.Redirect(w, r, linkTarget(link), http.StatusSeeOther)
	return nil
}

// sessionToken is the cookie's token of the request's session, or of the
// session just started in it: it salts the code's hash, so the store alone
// (which keeps only the token's hash) cannot test codes.
func (s *Server) sessionToken(r *http.Request, sess *service.Session) string {
	if t, ok := r.Context().Value(tokenKey{}).(*string); ok && *t != "" && sessionID(*t) == sess.ID {
		return *t
	}
	return sess.ID
}

func codeHash(salt, code string) string {
	sum := sha256.Sum256([]byte("convene-sign-in-code\x00" + salt + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// newCode is a uniformly random 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// maskEmail shows enough of an address to recognise it: "d••••@police.example.org".
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "your email address"
	}
	return local[:1] + strings.Repeat("•", 4) + "@" + domain
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

// codeLimiter bounds how often one client may open links and ask for
// codes (per instance; the per-address limit is in the store).
type codeLimiter struct {
	mu     sync.Mutex
	window time.Time
	counts map[string]int
}

func newCodeLimiter() *codeLimiter { return &codeLimiter{counts: map[string]int{}} }

// allow counts a request against key, refusing more than max a minute.
func (l *codeLimiter) allow(key string, max int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now().Truncate(time.Minute)
	if !now.Equal(l.window) {
		l.window, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	if l.counts[key] > max {
		return service.Errorf(service.ETOOMANY, "too many requests from your network; wait a minute and try again")
	}
	return nil
}

// openLink checks the request's invitation link, counting it against the
// client's limit when limited. A link that cannot be used has had its page
// shown (or its error returned) and link is nil.
func (s *Server) openLink(w http.ResponseWriter, r *http.Request, limited bool) (string, *service.InvitationLink, error) {
	token := r.PathValue("token")
	if limited {
		if err := s.codes.allow("ip:"+clientIP(r), 30); err != nil {
			return token, nil, err
		}
	}
	link, err := s.app.OpenInvitationLink(r.Context(), token)
	if err != nil {
		return token, nil, s.linkFailed(w, r, err)
	}
	return token, link, nil
}

// linkFailed shows why a link cannot be used (withdrawn, expired, not
// valid) in the domain's words; anything else is the usual error page.
func (s *Server) linkFailed(w http.ResponseWriter, r *http.Request, err error) error {
	switch service.ErrorCode(err) {
	case service.ENOTFOUND, service.EUNAUTHORIZED:
		return s.render(w, r, http.StatusNotFound, "error.html", &Page{Title: "This link cannot be used",
			Data: sentence(service.ErrorMessage(err)) + " If you still need to answer, use the latest invitation email, or contact business support."})
	}
	return err
}

// linkTarget is where a confirmed link leads: the record, for a link from
// its circulation email, otherwise the invitation with the answer the link
// was sent to give.
func linkTarget(link *service.InvitationLink) string {
	if link.Record {
		return "/records/" + link.DiscussionID
	}
	return "/invitations/" + link.DiscussionID + "?answer=" + string(link.Answer)
}
