package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// imip takes a raw email from the mail gateway: a reply, counter proposal
// or refresh request to an invitation.
func (s *Server) imip(c echo.Context) error {
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	res, err := s.app.IngestMessage(c.Request().Context(), raw, "http", c.Request().Header.Get("X-Envelope-From"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

var rsvpPage = template.Must(template.New("rsvp").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>Convene</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1.1rem;padding:.5rem 1.5rem}</style></head><body>
{{if .Error}}<h1>This link cannot be used</h1><p>{{.Error}}</p>
{{else if .Done}}<h1>Thank you</h1><p>Your answer ({{.Answer}}) to the strategy discussion for case {{.Case}} is recorded.</p>
{{else}}<h1>Strategy discussion — case {{.Case}}</h1>
{{if not .Start.IsZero}}<p>{{.Start.Format "Monday 2 January 2006, 15:04"}} to {{.End.Format "15:04"}}</p>{{end}}
{{if .Stale}}<p><strong>The invitation has changed since this link was sent. Please answer from the latest email.</strong></p>
{{else}}<p>Your current answer: {{.Current}}.</p>
<form method="post"><button type="submit">Confirm: {{.Answer}}</button></form>{{end}}
{{end}}</body></html>
`))

type rsvpData struct {
	Error, Case, Answer, Current string
	Start, End                   time.Time
	Stale, Done                  bool
}

// rsvpLimited counts an RSVP link request against the client address and
// against the link, and renders the refusal when either has made too many
// this minute: nobody may try tokens at speed, nor hammer one link.
func (s *Server) rsvpLimited(c echo.Context) (bool, error) {
	sum := sha256.Sum256([]byte(c.Param("token")))
	for _, key := range []string{clientKey(c), "link:" + hex.EncodeToString(sum[:16])} {
		if ok, retry := s.rsvp.allow(key); !ok {
			err := tooMany(c, retry, "requests for answer links")
			return true, s.rsvpRender(c, http.StatusTooManyRequests, rsvpData{Error: service.ErrorMessage(err)})
		}
	}
	return false, nil
}

// rsvpShow shows what an RSVP link would do; it changes nothing, because
// mail security scanners open every link in a message.
func (s *Server) rsvpShow(c echo.Context) error {
	if limited, err := s.rsvpLimited(c); limited {
		return err
	}
	info, err := s.app.RSVPLink(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.rsvpError(c, err)
	}
	return s.rsvpRender(c, http.StatusOK, rsvpData{Case: info.CaseReference, Answer: string(info.Answer), Current: string(info.Current),
		Start: info.Start, End: info.End, Stale: info.Stale})
}

// rsvpAnswer records the link's answer when the recipient confirms it.
func (s *Server) rsvpAnswer(c echo.Context) error {
	if limited, err := s.rsvpLimited(c); limited {
		return err
	}
	info, err := s.app.RSVPLink(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.rsvpError(c, err)
	}
	res, err := s.app.AnswerRSVP(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.rsvpError(c, err)
	}
	if res.Result == service.InboundIgnoredStale {
		return s.rsvpRender(c, http.StatusConflict, rsvpData{Case: info.CaseReference, Stale: true, Start: info.Start, End: info.End})
	}
	return s.rsvpRender(c, http.StatusOK, rsvpData{Case: info.CaseReference, Answer: string(info.Answer), Done: true})
}

func (s *Server) rsvpError(c echo.Context, err error) error {
	status := statusOf[service.ErrorCode(err)]
	if status == 0 || status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "RSVP failed", "request_id", requestID(c), "err", err)
		return s.rsvpRender(c, http.StatusInternalServerError, rsvpData{Error: "Something went wrong; please answer from the invitation in your calendar."})
	}
	return s.rsvpRender(c, status, rsvpData{Error: service.ErrorMessage(err)})
}

func (s *Server) rsvpRender(c echo.Context, status int, d rsvpData) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return rsvpPage.Execute(c.Response(), d)
}
