package invites

import (
	"strconv"
	"strings"
	"unicode"
)

// ContentError reports that text bound for an invitation contains a string
// the caller marked as sensitive. It names the field and the position of the
// sensitive string in the caller's list, never the string itself, so it is
// safe to log.
type ContentError struct {
	Field string // "summary", "description", "location", "online URL", "agenda", "text"
	Index int    // index into the sensitive list
}

// Error says which field holds sensitive text, without quoting it.
func (e *ContentError) Error() string {
	return "invites: " + e.Field + " contains sensitive text (item " + strconv.Itoa(e.Index) + " of the sensitive list)"
}

// CheckContent reports a *ContentError if any of texts contains any of the
// sensitive strings. Matching is by whole words and ignores case and runs
// of white space and punctuation, so "Smith, Jo" also catches "SMITH JO",
// "smith-jo" and "Smith Jo's", but "Ann" does not catch "Annual". Empty
// entries in sensitive are ignored.
//
// The service calls it on everything it is about to put in an invitation;
// Builder and Composer call it with Meeting.Sensitive.
func CheckContent(sensitive []string, texts ...string) error {
	for _, t := range texts {
		if err := checkField("text", t, sensitive); err != nil {
			return err
		}
	}
	return nil
}

func checkField(field, text string, sensitive []string) error {
	if len(sensitive) == 0 || text == "" {
		return nil
	}
	hay := normaliseForMatch(text)
	for i, s := range sensitive {
		needle := normaliseForMatch(s)
		if needle == "" {
			continue
		}
		if strings.Contains(hay, needle) {
			return &ContentError{Field: field, Index: i}
		}
	}
	return nil
}

// normaliseForMatch folds case and turns every run of characters that are
// not letters or digits into one space, with a space at each end so that
// matches can be anchored at word boundaries.
func normaliseForMatch(s string) string {
	var b strings.Builder
	b.WriteByte(' ')
	space := true
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	out := b.String()
	if !space {
		out += " "
	}
	if strings.TrimSpace(out) == "" {
		return ""
	}
	return out
}
