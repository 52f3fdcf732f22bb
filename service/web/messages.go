package web

import (
	"net/http"

	"github.com/convene/convene/service"
)

// The discussion's messages, each with whether it went, and for one that
// failed (a mailbox full, an address since corrected) a button to send it
// again: business support or the chair (the App decides, and puts it back
// on the send queue).

type messagesView struct {
	D        *service.Discussion
	Messages []messageLine
}

type messageLine struct {
	ID, What, To, State, StateClass, When, Error string
	Failed                                       bool
}

var messageBanners = map[string]string{
	"resent": "The message is back on the send queue and will be sent again in a moment.",
}

func (s *Server) messagesPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d, err := s.app.Discussion(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	msgs, err := s.app.DiscussionMessages(ctx, d)
	if err != nil {
		return err
	}
	zone := s.cfg.Zone
	v := &messagesView{D: d}
	for _, m := range msgs {
		l := messageLine{ID: m.ID, What: or(methodWords[m.Method], Words(m.Method)), To: nameOf(d, m.To) + " (" + m.To + ")",
			State: say(messageWords, m.State), StateClass: messageClass[m.State], When: When(m.CreatedAt, zone),
			Error: m.LastError, Failed: m.State == service.MessageFailed}
		if m.SentAt != nil {
			l.When = When(*m.SentAt, zone)
		}
		v.Messages = append(v.Messages, l)
	}
	p := &Page{Title: "Messages for case " + d.CaseReference, Nav: "/today", Back: "/discussions/" + d.ID,
		Banner: messageBanners[r.URL.Query().Get("done")], Data: v}
	return s.render(w, r, http.StatusOK, "messages.html", p)
}

// resendPost puts a failed message back on the send queue.
func (s *Server) resendPost(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.app.RequeueMessage(r.Context(), id, r.PathValue("message")); err != nil {
		return err
	}
	return done(w, r, "/discussions/"+id+"/messages", "resent")
}
