package calendar

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// challenge is one authentication challenge from a WWW-Authenticate header
// (RFC 9110 §11.6.1): a scheme and its parameters, names in lower case.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads every challenge of the WWW-Authenticate headers.
// A header may hold several: a token followed by "=" is a parameter of the
// current challenge, any other token starts the next one.
func parseChallenges(h http.Header) []challenge {
	var out []challenge
	for _, s := range h.Values("WWW-Authenticate") {
		for {
			s = strings.TrimLeft(s, " \t,")
			j := 0
			for j < len(s) && isTokenChar(s[j]) {
				j++
			}
			if j == 0 {
				break
			}
			name := s[:j]
			s = strings.TrimLeft(s[j:], " \t")
			if !strings.HasPrefix(s, "=") {
				out = append(out, challenge{scheme: strings.ToLower(name), params: map[string]string{}})
				continue
			}
			s = strings.TrimLeft(s[1:], " \t")
			var value string
			if strings.HasPrefix(s, `"`) {
				var b strings.Builder
				k := 1
				for ; k < len(s) && s[k] != '"'; k++ {
					if s[k] == '\\' && k+1 < len(s) {
						k++
					}
					b.WriteByte(s[k])
				}
				value, s = b.String(), s[min(k+1, len(s)):]
			} else {
				k := strings.IndexAny(s, " \t,")
				if k < 0 {
					k = len(s)
				}
				value, s = s[:k], s[k:]
			}
			if len(out) > 0 {
				out[len(out)-1].params[strings.ToLower(name)] = value
			}
		}
	}
	return out
}

func isTokenChar(b byte) bool {
	return b > ' ' && b < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(b))
}

// digestAuth answers a Digest challenge (RFC 7616) for one origin. It
// keeps the nonce and its count so that later requests need no new
// challenge until the server declares the nonce stale.
type digestAuth struct {
	realm, nonce, opaque, algorithm, qop string
	userhash                             bool
	nc                                   int
}

// newDigest takes the strongest Digest challenge we can answer: SHA-256
// before MD5, qop=auth (or none, as RFC 2069 servers send), never
// qop=auth-int alone.
func newDigest(chs []challenge) *digestAuth {
	var best *digestAuth
	rank := func(alg string) int {
		switch strings.ToUpper(alg) {
		case "SHA-256", "SHA-256-SESS":
			return 2
		case "", "MD5", "MD5-SESS":
			return 1
		}
		return 0
	}
	for _, c := range chs {
		if c.scheme != "digest" || c.params["nonce"] == "" {
			continue
		}
		alg := c.params["algorithm"]
		if rank(alg) == 0 {
			continue
		}
		qop := ""
		if q, ok := c.params["qop"]; ok {
			for v := range strings.SplitSeq(q, ",") {
				if strings.TrimSpace(strings.ToLower(v)) == "auth" {
					qop = "auth"
				}
			}
			if qop == "" {
				continue
			}
		}
		d := &digestAuth{realm: c.params["realm"], nonce: c.params["nonce"], opaque: c.params["opaque"],
			algorithm: alg, qop: qop, userhash: strings.EqualFold(c.params["userhash"], "true")}
		if best == nil || rank(alg) > rank(best.algorithm) {
			best = d
		}
	}
	return best
}

func (d *digestAuth) hash() func() hash.Hash {
	if strings.HasPrefix(strings.ToUpper(d.algorithm), "SHA-256") {
		return sha256.New
	}
	return md5.New
}

// authorization returns the Authorization header for one request.
func (d *digestAuth) authorization(method, uri, user, pass string) string {
	newHash := d.hash()
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	d.nc++
	nc := fmt.Sprintf("%08x", d.nc)
	var cb [16]byte
	_, _ = rand.Read(cb[:])
	cnonce := hex.EncodeToString(cb[:])
	a1 := user + ":" + d.realm + ":" + pass
	if strings.HasSuffix(strings.ToUpper(d.algorithm), "-SESS") {
		a1 = h(a1) + ":" + d.nonce + ":" + cnonce
	}
	ha1, ha2 := h(a1), h(method+":"+uri)
	var response string
	if d.qop == "" {
		response = h(ha1 + ":" + d.nonce + ":" + ha2)
	} else {
		response = h(ha1 + ":" + d.nonce + ":" + nc + ":" + cnonce + ":" + d.qop + ":" + ha2)
	}
	username := user
	if d.userhash {
		username = h(user + ":" + d.realm)
	}
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	var b strings.Builder
	fmt.Fprintf(&b, "Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s", q(username), q(d.realm), q(d.nonce), q(uri), q(response))
	if d.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", d.algorithm)
	}
	if d.opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", q(d.opaque))
	}
	if d.qop != "" {
		fmt.Fprintf(&b, ", qop=%s, nc=%s, cnonce=%s", d.qop, nc, q(cnonce))
	}
	if d.userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}
