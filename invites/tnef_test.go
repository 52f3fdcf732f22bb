package invites

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

// realTNEF lists the TNEF files in testdata/tnef taken byte for byte from
// github.com/Teamwork/tnef (see testdata/tnef/README.md). None is a meeting
// message: they are mail with attachments, which is what most winmail.dat
// files are.
func realTNEF(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "tnef", "*.tnef"))
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata/tnef holds %d files (%v)", len(files), err)
	}
	return files
}

// corruptTNEF are the real files that are broken on purpose: a mangled
// signature, and a stream whose lengths point past its end (which makes
// Debian's tnef abort and ytnef refuse it). We must refuse or read around
// them without panicking, and never find a meeting in them.
var corruptTNEF = map[string]bool{"badchecksum.tnef": true, "panic.tnef": true}

// TestReadTNEFAgainstDebianTools decodes real TNEF files and compares what
// we find with two independent decoders: Debian's tnef (the attachments,
// byte for byte) and ytnef's ytnefprint (the message class).
func TestReadTNEFAgainstDebianTools(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"/usr/bin/tnef", "/usr/bin/ytnefprint"} {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("%s not found: apt-get install tnef ytnef-tools", tool)
		}
	}
	classLine := regexp.MustCompile(`(?m)^Message Class: (.*)$`)
	compared := 0
	for _, file := range realTNEF(t) {
		name := filepath.Base(file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := readTNEF(data)
		// Wrapped in mail as Exchange sends it, every file is read and
		// refused for what it is: mail without a meeting in it.
		if _, perr := ParseMessage(tnefMail(t, "priya.patel@police.example.uk", data)); !errors.Is(perr, ErrNoCalendar) && !errors.Is(perr, ErrMalformed) {
			t.Errorf("%s: ParseMessage = %v, want %v or %v", name, perr, ErrNoCalendar, ErrMalformed)
		}
		if corruptTNEF[name] {
			if out, terr := exec.Command("/usr/bin/tnef", "-t", "-f", file).CombinedOutput(); terr == nil {
				t.Errorf("%s: Debian's tnef reads it (%s); it is no longer a corrupt example", name, out)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: readTNEF: %v", name, err)
			continue
		}
		var ours []string
		for _, a := range msg.attachments {
			if len(a.data) > 0 {
				ours = append(ours, digest(a.data))
			}
		}
		slices.Sort(ours)

		dir := t.TempDir()
		out, err := exec.Command("/usr/bin/tnef", "--number-backups", "-C", dir, "-f", file).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: tnef: %v\n%s", name, err, out)
		}
		var theirs []string
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 0 { // tnef writes an empty file for an attachment without data
				theirs = append(theirs, digest(b))
			}
		}
		slices.Sort(theirs)
		compared += len(theirs)
		if diff := cmp.Diff(theirs, ours); diff != "" {
			t.Errorf("%s: attachments differ from Debian's tnef (-tnef +ours):\n%s", name, diff)
		}

		cmd := exec.Command("/usr/bin/ytnefprint", file)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, _ = cmd.CombinedOutput()
		if m := classLine.FindSubmatch(out); m != nil {
			if got, want := msg.class, strings.TrimSpace(string(m[1])); got != want {
				t.Errorf("%s: message class %q, ytnefprint says %q", name, got, want)
			}
		}
	}
	if compared < 5 {
		t.Errorf("only %d attachments compared: the fixtures no longer test much", compared)
	}
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// tnefMail wraps a TNEF stream in a message as Exchange sends one to a
// domain it treats as another Exchange.
func tnefMail(t testing.TB, from string, tnef []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("From: " + from + "\r\nTo: convene@council.example.gov.uk\r\nSubject: Accepted: Strategy discussion\r\n" +
		"Message-ID: <tnef-1@police.example.uk>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"_000_tnef\"\r\n\r\n" +
		"--_000_tnef\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\r\n" +
		"--_000_tnef\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n" +
		"Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(tnef)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--_000_tnef--\r\n")
	return b.Bytes()
}

// The synthetic fixtures. No real TNEF meeting reply could be found under
// a licence that lets us keep it, so these are written by tnefWriter
// below, following [MS-OXTNEF] and the properties [MS-OXOCAL] gives a
// meeting response, and checked with ytnefprint, an independent decoder.
// They are kept in testdata/tnef/synthetic (go test -update rewrites them)
// so that a change to the writer shows up as a change to the files.

type tnefFixture struct {
	file string
	from string // the MIME From
	make func(t testing.TB) []byte
	want replyView
}

var (
	replyStamp = time.Date(2026, 7, 10, 10, 15, 12, 0, time.UTC)
	meetStart  = time.Date(2026, 7, 14, 9, 0, 0, 0, time.UTC)
	meetEnd    = time.Date(2026, 7, 14, 10, 0, 0, 0, time.UTC)
)

func tnefFixtures() []tnefFixture {
	const priyaAddr = "priya.patel@police.example.uk"
	response := func(class string, seq int32, extra ...mapiOut) func(t testing.TB) []byte {
		return func(t testing.TB) []byte {
			props := []mapiOut{
				unicodeProp(prMessageClass, class),
				unicodeProp(prSubject, "Accepted: Strategy discussion — case CR-2026-0042"),
				namedProp(psetidMeeting, lidGlobalObjectID, ptBinary, globalObjectID(fixtureUID)),
				namedProp(psetidMeeting, lidCleanGlobalObjectID, ptBinary, globalObjectID(fixtureUID)),
				namedProp(psetidAppointment, lidAppointmentSequence, ptLong, le32(uint32(seq))),
				namedProp(psetidMeeting, lidAttendeeCriticalChange, ptSysTime, filetime(replyStamp)),
				namedProp(psetidAppointment, lidStartWhole, ptSysTime, filetime(meetStart)),
				namedProp(psetidAppointment, lidEndWhole, ptSysTime, filetime(meetEnd)),
			}
			props = append(props, extra...)
			w := newTNEFWriter()
			w.attr(1, 0x00078008, append([]byte(class), 0))
			w.attr(1, 0x00069003, mapiBlock(props))
			return w.bytes()
		}
	}
	smtpSender := func(addr, name string) []mapiOut {
		return []mapiOut{
			unicodeProp(prSentRepresentingName, name),
			string8Prop(prSentRepresentingAddrType, "SMTP"),
			string8Prop(prSentRepresentingEmail, addr),
			unicodeProp(prSentRepresentingSMTP, addr),
			string8Prop(prSenderAddrType, "SMTP"),
			unicodeProp(prSenderSMTP, addr),
		}
	}
	return []tnefFixture{
		{"exchange-accepted.tnef", priyaAddr,
			response("IPM.Schedule.Meeting.Resp.Pos", 0, smtpSender(priyaAddr, "DS Priya Patel")...),
			replyView{Method: MethodReply, UID: fixtureUID, DTStamp: replyStamp,
				Speaker: priyaAddr, Stat: PartStatAccepted, AttendeeCount: 1}},
		{"exchange-tentative-seq2.tnef", priyaAddr,
			response("IPM.Schedule.Meeting.Resp.Tent", 2, smtpSender(priyaAddr, "DS Priya Patel")...),
			replyView{Method: MethodReply, UID: fixtureUID, Sequence: 2, DTStamp: replyStamp,
				Speaker: priyaAddr, Stat: PartStatTentative, AttendeeCount: 1}},
		{"exchange-declined-x500.tnef", "ola.health@nhs.example.net",
			// Exchange names its own users by X.500 DN: the attendee is
			// the MIME From.
			response("IPM.Schedule.Meeting.Resp.Neg", 1,
				string8Prop(prSentRepresentingAddrType, "EX"),
				string8Prop(prSentRepresentingEmail, "/O=NHS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=OLA.HEALTH"),
				string8Prop(prSenderAddrType, "EX"),
				string8Prop(prSenderEmail, "/O=NHS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=OLA.HEALTH")),
			replyView{Method: MethodReply, UID: fixtureUID, Sequence: 1, DTStamp: replyStamp,
				Speaker: "ola.health@nhs.example.net", Stat: PartStatDeclined, AttendeeCount: 1}},
		{"exchange-accepted-by-assistant.tnef", "alex.assistant@police.example.uk",
			response("IPM.Schedule.Meeting.Resp.Pos", 0,
				unicodeProp(prSentRepresentingName, "DS Priya Patel"),
				unicodeProp(prSentRepresentingSMTP, priyaAddr),
				unicodeProp(prSenderSMTP, "alex.assistant@police.example.uk")),
			replyView{Method: MethodReply, UID: fixtureUID, DTStamp: replyStamp,
				Speaker: priyaAddr, Stat: PartStatAccepted, AttendeeCount: 1, SentBy: "alex.assistant@police.example.uk"}},
		{"exchange-counter.tnef", priyaAddr,
			response("IPM.Schedule.Meeting.Resp.Tent", 0, append(smtpSender(priyaAddr, "DS Priya Patel"),
				namedProp(psetidAppointment, lidCounterProposal, ptBoolean, []byte{1, 0}),
				namedProp(psetidAppointment, lidProposedStartWhole, ptSysTime, filetime(meetStart.Add(4*time.Hour))),
				namedProp(psetidAppointment, lidProposedEndWhole, ptSysTime, filetime(meetEnd.Add(4*time.Hour))))...),
			replyView{Method: MethodCounter, UID: fixtureUID, DTStamp: replyStamp,
				Speaker: priyaAddr, Stat: PartStatTentative, AttendeeCount: 1,
				Proposal: &Proposal{Start: meetStart.Add(4 * time.Hour), End: meetEnd.Add(4 * time.Hour), OriginalStart: meetStart, OriginalEnd: meetEnd}}},
		{"outlook-accepted-ics-attachment.tnef", "jordan@school.example.sch.uk",
			func(t testing.TB) []byte {
				// Outlook with TNEF on, to a recipient it does not know:
				// the MAPI properties and the iCalendar as an attachment.
				m := summerMeeting(t)
				ics, err := (&Builder{Now: fixedClock(replyStamp)}).Reply(m, "jordan@school.example.sch.uk", PartStatAccepted, "")
				if err != nil {
					t.Fatal(err)
				}
				w := newTNEFWriter()
				w.attr(1, 0x00078008, []byte("IPM.Schedule.Meeting.Resp.Pos\x00"))
				w.attr(1, 0x00069003, mapiBlock([]mapiOut{unicodeProp(prMessageClass, "IPM.Schedule.Meeting.Resp.Pos")}))
				w.attr(2, 0x00069002, []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
				w.attr(2, 0x00018010, []byte("invite.ics\x00"))
				w.attr(2, 0x0006800F, ics)
				w.attr(2, 0x00069005, mapiBlock([]mapiOut{
					unicodeProp(prAttachLongFilename, "invite.ics"),
					unicodeProp(prAttachMimeTag, "text/calendar"),
				}))
				return w.bytes()
			},
			replyView{Method: MethodReply, UID: fixtureUID, DTStamp: replyStamp, Organizer: "convene@council.example.gov.uk",
				Speaker: "jordan@school.example.sch.uk", Stat: PartStatAccepted, AttendeeCount: 1}},
	}
}

func TestTNEFMeetingReplies(t *testing.T) {
	t.Parallel()
	for _, f := range tnefFixtures() {
		t.Run(f.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "tnef", "synthetic", f.file)
			built := f.make(t)
			if *update {
				if err := os.WriteFile(path, built, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./invites -run TestTNEFMeetingReplies -update writes it)", err)
			}
			if !bytes.Equal(data, built) {
				t.Errorf("%s differs from what the writer makes now; -update if that is meant", f.file)
			}

			in, err := ParseMessage(tnefMail(t, f.from, data))
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			got := view(t, in)
			if diff := cmp.Diff(f.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}

			// An independent decoder reads the same message class.
			out, err := exec.Command("/usr/bin/ytnefprint", path).CombinedOutput()
			if err != nil {
				t.Fatalf("ytnefprint: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("Message Class: IPM.Schedule.Meeting.Resp.")) {
				t.Errorf("ytnefprint does not read the message class:\n%s", out)
			}
		})
	}
}

// The ytnefprint listing of a MAPI-only reply shows the properties our
// reader uses, with the values we wrote: the writer is not just agreeing
// with the reader.
func TestTNEFFixtureReadByYtnef(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "reply.tnef")
	if err := os.WriteFile(path, tnefFixtures()[1].make(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/ytnefprint", path)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ytnefprint: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Message Class: IPM.Schedule.Meeting.Resp.Tent",
		"Code: [PR_SENT_REPRESENTING_SMTP_ADDRESS]\n    Size: 60    Value: [priya.patel@police.example.uk]",
		"Code: [UD:x0003]", // PidLidGlobalObjectId
		"vCal-Uid....b1f6c0de-5e1a-4c1e-9d7a-2f4d3c2b1a00@convene.example",
		"Code: [UD:x8201]\n    Size: 4    Value: 2",                                // PidLidAppointmentSequence
		"Code: [UD:x0001]\n    Size: 8    Value: Friday July 10, 2026 10:15:12 am", // PidLidAttendeeCriticalChange
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("ytnefprint output lacks %q:\n%s", want, out)
		}
	}
}

func TestTNEFRefusals(t *testing.T) {
	t.Parallel()
	accepted := tnefFixtures()[0].make(t)
	noUID := newTNEFWriter()
	noUID.attr(1, 0x00078008, []byte("IPM.Schedule.Meeting.Resp.Pos\x00"))
	noUID.attr(1, 0x00069003, mapiBlock([]mapiOut{unicodeProp(prSentRepresentingSMTP, "priya.patel@police.example.uk")}))
	request := newTNEFWriter()
	request.attr(1, 0x00078008, []byte("IPM.Schedule.Meeting.Request\x00"))
	request.attr(1, 0x00069003, mapiBlock([]mapiOut{namedProp(psetidMeeting, lidGlobalObjectID, ptBinary, globalObjectID(fixtureUID))}))
	tests := []struct {
		name string
		tnef []byte
		want ErrorKind
	}{
		{"not TNEF", []byte("this is not a TNEF stream at all"), ErrMalformed},
		{"truncated signature", accepted[:3], ErrMalformed},
		{"truncated in the properties", accepted[:len(accepted)/2], ErrNoUID},
		{"no global object ID", noUID.bytes(), ErrNoUID},
		{"a meeting request, not a reply", request.bytes(), ErrMethod},
		{"property count beyond the limit", func() []byte {
			w := newTNEFWriter()
			w.attr(1, 0x00078008, []byte("IPM.Schedule.Meeting.Resp.Pos\x00"))
			w.attr(1, 0x00069003, le32(maxTNEFProps+1))
			return w.bytes()
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseMessage(tnefMail(t, "priya.patel@police.example.uk", tt.tnef))
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMeetingUID(t *testing.T) {
	t.Parallel()
	exchangeMade := append(append([]byte(nil), globalObjectIDPrefix...), 0x07, 0xEA, 0x07, 0x0E, // instance 2026-07-14
		1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0)
	exchangeMade = append(exchangeMade, bytes.Repeat([]byte{0xAB}, 16)...)
	tests := []struct {
		name string
		id   []byte
		want string
	}{
		{"from iCalendar", globalObjectID(fixtureUID), fixtureUID},
		{"made by Exchange: hex, instance date cleared", exchangeMade,
			"040000008200E00074C5B7101A82E008" + "00000000" + "0102030405060708" + "0000000000000000" + "10000000" + strings.Repeat("AB", 16)},
		{"wrong prefix", append([]byte{1}, globalObjectID(fixtureUID)[1:]...), ""},
		{"too short", globalObjectIDPrefix, ""},
	}
	for _, tt := range tests {
		if got := meetingUID(tt.id); got != tt.want {
			t.Errorf("%s: meetingUID = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// tnefWriter writes TNEF streams for the synthetic fixtures.
type tnefWriter struct{ b bytes.Buffer }

func newTNEFWriter() *tnefWriter {
	w := &tnefWriter{}
	w.b.Write(le32(tnefSignature))
	w.b.Write([]byte{0x01, 0x00})                         // legacy key
	w.attr(1, 0x00089006, le32(0x00010000))               // attTnefVersion
	w.attr(1, 0x00069007, append(le32(1252), le32(0)...)) // attOemCodepage
	return w
}

func (w *tnefWriter) attr(level byte, id uint32, data []byte) {
	w.b.WriteByte(level)
	w.b.Write(le32(id))
	w.b.Write(le32(uint32(len(data))))
	w.b.Write(data)
	var sum uint16
	for _, c := range data {
		sum += uint16(c)
	}
	w.b.Write([]byte{byte(sum), byte(sum >> 8)})
}

func (w *tnefWriter) bytes() []byte { return w.b.Bytes() }

// mapiOut is one property to write.
type mapiOut struct {
	typ   uint16
	id    uint16
	named bool
	guid  [16]byte
	lid   uint32
	value []byte
}

func unicodeProp(id uint16, s string) mapiOut {
	u := utf16.Encode([]rune(s + "\x00"))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return mapiOut{typ: ptUnicode, id: id, value: b}
}

func string8Prop(id uint16, s string) mapiOut {
	return mapiOut{typ: ptString8, id: id, value: append([]byte(s), 0)}
}

func namedProp(set [16]byte, lid uint32, typ uint16, value []byte) mapiOut {
	return mapiOut{typ: typ, id: 0x8000, named: true, guid: set, lid: lid, value: value}
}

func mapiBlock(props []mapiOut) []byte {
	var b bytes.Buffer
	b.Write(le32(uint32(len(props))))
	for i, p := range props {
		id := p.id
		if p.named {
			id = 0x8000 + uint16(i) // named IDs are assigned per stream
		}
		b.Write([]byte{byte(p.typ), byte(p.typ >> 8), byte(id), byte(id >> 8)})
		if p.named {
			b.Write(p.guid[:])
			b.Write(le32(0)) // MNID_ID
			b.Write(le32(p.lid))
		}
		if isVariable(p.typ) {
			b.Write(le32(1))
			b.Write(le32(uint32(len(p.value))))
		}
		b.Write(p.value)
		for n := len(p.value); n%4 != 0; n++ {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// globalObjectID is PidLidGlobalObjectId for a meeting that came from
// iCalendar with the given UID ([MS-OXOCAL] §2.2.1.27).
func globalObjectID(uid string) []byte {
	data := append(append([]byte(nil), vCalUIDMarker...), append([]byte(uid), 0)...)
	var b bytes.Buffer
	b.Write(globalObjectIDPrefix)
	b.Write([]byte{0, 0, 0, 0})   // no instance date
	b.Write(filetime(replyStamp)) // creation time
	b.Write(make([]byte, 8))      // reserved
	b.Write(le32(uint32(len(data))))
	b.Write(data)
	return b.Bytes()
}

func filetime(t time.Time) []byte {
	ft := uint64(t.UnixNano()/100) + 116444736000000000
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, ft)
	return b
}

func le32(v uint32) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, v)
	return b
}
