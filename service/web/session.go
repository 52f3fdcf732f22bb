package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/convene/convene/service"
)

// Cookies. The __Host- prefix makes the browser refuse them unless they
// are Secure, for the whole site and no other domain (browsers treat
// http://localhost as secure, so development works too).
const (
	sessionCookie = "__Host-convene"
	// anonCSRFCookie carries the token forms carry before anyone signs in
	// (sign-in, the partner's "send me a code"): a double submit.
	anonCSRFCookie = "__Host-convene-csrf"
	csrfField      = "csrf_token"
	// formLimit bounds a form's body.
	formLimit = 64 << 10
)

type sessionKey struct{}

// tokenKey carries the request's session token (a *string: set when the
// cookie's session is loaded, and when a session is started).
type tokenKey struct{}

// sessionFrom returns the request's session, or nil.
func sessionFrom(ctx context.Context) *service.Session {
	s, _ := ctx.Value(sessionKey{}).(*service.Session)
	return s
}

// newToken returns 32 random bytes, URL-safe.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionID is how a token is stored: its hash, so a copy of the store
// signs nobody in.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// secure wraps every request: security headers, cross-origin protection,
// the session, and the CSRF token on every POST.
func (s *Server) secure(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.WarnContext(r.Context(), "web: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		http.Error(w, "This form was sent from another site, so it was refused.", http.StatusForbidden)
	}))
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "+
			"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Links carry signed tokens in their paths: never send them on.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/assets/") || strings.HasPrefix(r.URL.Path, "/static/") {
			// Files the same for everyone: no session read for them.
			next.ServeHTTP(w, r)
			return
		}
		ctx := service.WithRequestID(r.Context(), newToken()[:16])
		ctx = context.WithValue(ctx, tokenKey{}, new(string))
		if sess := s.loadSession(ctx, w, r); sess != nil {
			ctx = context.WithValue(ctx, sessionKey{}, sess)
		}
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, formLimit)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "The form could not be read.", http.StatusBadRequest)
				return
			}
			if !s.csrfOK(r) {
				s.log.WarnContext(ctx, "web: form without a valid CSRF token refused", "path", r.URL.Path)
				http.Error(w, "This form has expired or was not sent from Convene. Go back, reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	return cop.Handler(inner)
}

// csrfOK checks a POST's token against the session's, or, with no
// session, against the anonymous cookie (double submit).
func (s *Server) csrfOK(r *http.Request) bool {
	got := r.PostForm.Get(csrfField)
	want := ""
	if sess := sessionFrom(r.Context()); sess != nil {
		want = sess.CSRF
	} else if c, err := r.Cookie(anonCSRFCookie); err == nil {
		want = c.Value
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// anonCSRF returns the anonymous CSRF token, setting its cookie when the
// browser has none.
func (s *Server) anonCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(anonCSRFCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: anonCSRFCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return tok
}

// loadSession finds the cookie's session and checks its timeouts; an
// expired one is deleted. Activity moves the idle timeout on (written at
// most once a minute).
func (s *Server) loadSession(ctx context.Context, w http.ResponseWriter, r *http.Request) *service.Session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	sess, err := s.sessions.Session(ctx, sessionID(c.Value))
	if err != nil {
		if service.ErrorCode(err) != service.ENOTFOUND {
			s.log.ErrorContext(ctx, "web: reading a session", "err", err)
		}
		clearCookie(w, sessionCookie)
		return nil
	}
	if t, ok := ctx.Value(tokenKey{}).(*string); ok {
		*t = c.Value
	}
	now := s.cfg.Now()
	if now.After(sess.SeenAt.Add(s.cfg.IdleTimeout)) || now.After(sess.CreatedAt.Add(s.cfg.AbsoluteTimeout)) {
		_ = s.sessions.DeleteSession(ctx, sess.ID)
		clearCookie(w, sessionCookie)
		return nil
	}
	if now.Sub(sess.SeenAt) > time.Minute {
		sess.SeenAt = now
		sess.ExpiresAt = s.expiry(sess)
		if err := s.sessions.UpdateSession(ctx, sess); err != nil && service.ErrorCode(err) != service.ECONFLICT {
			s.log.ErrorContext(ctx, "web: touching a session", "err", err)
		}
	}
	return sess
}

// expiry is when a session ends if nothing more happens.
func (s *Server) expiry(sess *service.Session) time.Time {
	idle, abs := sess.SeenAt.Add(s.cfg.IdleTimeout), sess.CreatedAt.Add(s.cfg.AbsoluteTimeout)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// startSession stores a new session and sets its cookie, ending the
// browser's previous session (a new id at every sign-in: no fixation).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess *service.Session) error {
	if old := sessionFrom(r.Context()); old != nil {
		_ = s.sessions.DeleteSession(r.Context(), old.ID)
	}
	now := s.cfg.Now()
	tok := newToken()
	sess.ID, sess.CSRF, sess.CreatedAt, sess.SeenAt = sessionID(tok), newToken(), now, now
	sess.ExpiresAt = s.expiry(sess)
	if err := s.sessions.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	if t, ok := r.Context().Value(tokenKey{}).(*string); ok {
		*t = tok
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.prune(r.Context(), now)
	return nil
}

// prune removes expired sessions, at most every ten minutes.
func (s *Server) prune(ctx context.Context, now time.Time) {
	s.pruneMu.Lock()
	due := now.Sub(s.prunedAt) > 10*time.Minute
	if due {
		s.prunedAt = now
	}
	s.pruneMu.Unlock()
	if due {
		if err := s.sessions.PruneSessions(ctx, now); err != nil {
			s.log.WarnContext(ctx, "web: pruning sessions", "err", err)
		}
	}
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// handlerFunc is a page handler: it renders or redirects, or returns an
// error that the error page shows.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// page registers a handler open to anyone (it checks what it needs).
func (s *Server) page(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.serve(h))
}

// staffPage registers a page for signed-in staff holding one of the roles
// (any staff member when none are given). The principal is in the
// request's context (service.WithPrincipal) for the App to authorise and
// audit; a partner's session never reaches a staff page.
func (s *Server) staffPage(pattern string, h handlerFunc, roles ...service.Role) {
	s.mux.Handle(pattern, s.serve(func(w http.ResponseWriter, r *http.Request) error {
		sess := sessionFrom(r.Context())
		if sess == nil || !sess.Confirmed || sess.Partner {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/sign-in?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return service.Errorf(service.EUNAUTHORIZED, "sign in first")
		}
		if len(roles) > 0 && !sess.Principal.Has(roles...) {
			return service.Errorf(service.EFORBIDDEN, "your role cannot use this page")
		}
		return h(w, r.WithContext(service.WithPrincipal(r.Context(), &sess.Principal)))
	}))
}

// serve runs a handler and shows its error, if any, as a page.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail shows an error page: the domain's message for what the user can
// act on, a plain apology for anything internal (logged with the request
// id).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := http.StatusInternalServerError, "Sorry, there is a problem with the service", "Try again later."
	switch service.ErrorCode(err) {
	case service.ENOTFOUND:
		status, title, msg = http.StatusNotFound, "Page not found", "If you typed the web address, check it is correct. If you followed a link, it may be out of date."
	case service.EUNAUTHORIZED:
		status, title, msg = http.StatusUnauthorized, "You need to sign in", sentence(service.ErrorMessage(err))
	case service.EFORBIDDEN:
		status, title, msg = http.StatusForbidden, "You cannot see this page", sentence(service.ErrorMessage(err))
	case service.ETOOMANY:
		status, title, msg = http.StatusTooManyRequests, "Too many attempts", sentence(service.ErrorMessage(err))
	case service.EINVALID, service.EMALFORMED, service.EPRECONDITION, service.ECONFLICT:
		status, title, msg = http.StatusUnprocessableEntity, "This cannot be done", sentence(service.ErrorMessage(err))
	case service.EUNAVAILABLE:
		status, title, msg = http.StatusServiceUnavailable, "Sorry, the service is busy", "Try again in a minute."
	default:
		s.log.ErrorContext(r.Context(), "web: page failed", "request_id", service.RequestIDFrom(r.Context()), "path", r.URL.Path, "err", err)
	}
	if rerr := s.render(w, r, status, "error.html", &Page{Title: title, Data: msg}); rerr != nil {
		s.log.ErrorContext(r.Context(), "web: error page failed", "err", rerr)
		http.Error(w, title, status)
	}
}

// home sends people where they start: staff to today's discussions,
// anyone else to sign in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	if sess := sessionFrom(r.Context()); sess != nil && sess.Confirmed {
		http.Redirect(w, r, homeFor(sess), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
	return nil
}

// StaffHome is where business support and chairs land after signing in.
const StaffHome = "/today"

// homeFor is where a signed-in person starts: business support and chairs
// on Today, administrators on the directory, agency representatives on
// their invitations, a partner on the one invitation they signed in for.
func homeFor(sess *service.Session) string {
	p := &sess.Principal
	switch {
	case sess.Partner:
		return "/invitations/" + sess.DiscussionID
	case p.Has(service.RoleBusinessSupport, service.RoleChair):
		return StaffHome
	case p.Has(service.RoleAdmin):
		return "/directory"
	}
	return "/invitations"
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	return service.Errorf(service.ENOTFOUND, "no such page")
}

// signIn offers the ways to sign in: the identity provider, and in demo
// mode the demo people.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	data := signInData{OIDC: s.oidc != nil, Demo: s.cfg.Demo, Return: safeReturn(r.URL.Query().Get("return"))}
	name := "signin.html"
	if len(s.cfg.Demo) > 0 {
		name = "signin_demo.html"
	}
	p := &Page{Title: "Sign in", Data: data}
	if r.URL.Query().Get("signed-out") != "" {
		p.Banner = "You have signed out."
	}
	return s.render(w, r, http.StatusOK, name, p)
}

type signInData struct {
	OIDC   bool
	Demo   []service.Principal
	Return string
}

// signInDemo signs in as a demo person (demo mode only).
func (s *Server) signInDemo(w http.ResponseWriter, r *http.Request) error {
	if len(s.cfg.Demo) == 0 {
		return service.Errorf(service.ENOTFOUND, "no demo sign-in")
	}
	who := r.PostForm.Get("person")
	for _, p := range s.cfg.Demo {
		if p.Subject == who {
			if err := s.startSession(w, r, &service.Session{Principal: p, Confirmed: true}); err != nil {
				return err
			}
			if err := s.app.AuditSignIn(service.WithPrincipal(r.Context(), &p), service.SignInDemo, ""); err != nil {
				return err
			}
			http.Redirect(w, r, or(safeReturn(r.PostForm.Get("return")), homeFor(&service.Session{Principal: p})), http.StatusSeeOther)
			return nil
		}
	}
	p := &Page{Title: "Sign in", Data: signInData{OIDC: s.oidc != nil, Demo: s.cfg.Demo},
		Errors: []FieldError{{Field: "person", Message: "Select who you are signing in as."}}, Form: r.PostForm}
	return s.render(w, r, http.StatusUnprocessableEntity, "signin_demo.html", p)
}

// signOut ends the session.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	if sess := sessionFrom(r.Context()); sess != nil {
		if err := s.sessions.DeleteSession(r.Context(), sess.ID); err != nil {
			return err
		}
		if sess.Confirmed {
			if err := s.app.AuditSignIn(service.WithPrincipal(r.Context(), &sess.Principal), service.SignOutRequest, sess.DiscussionID); err != nil {
				return err
			}
		}
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/sign-in?signed-out=1", http.StatusSeeOther)
	return nil
}

// safeReturn keeps a return path only when it is a path on this site.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
