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
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

// npmTNEF is where the real TNEF files are: the npm package node-tnef
// ships them for its own tests, and .ci/deps installs it into testdata/js
// (npm ci, pinned by testdata/js/package-lock.json). They are read where
// npm put them, not copied into testdata.
var npmTNEF = filepath.Join("testdata", "js", "node_modules", "node-tnef", "testFiles")

// realTNEFFiles are the real TNEF files node-tnef 1.4.0 ships. None is a
// meeting message: attachments.dat is Outlook mail with two attachments,
// which is what most winmail.dat files are. The other two are broken on
// purpose: badchecksum.dat is attachments.dat with a byte of its signature
// changed, and panic.dat has lengths pointing past its end (Debian's tnef
// aborts on it). We must refuse those without panicking, and never find a
// meeting in any of them.
var realTNEFFiles = []struct {
	name        string
	corrupt     bool
	attachments int         // with data, as Debian's tnef extracts them
	refusals    []ErrorKind // what ParseMessage may say of it in mail
}{
	{name: "attachments.dat", attachments: 2, refusals: []ErrorKind{ErrNoCalendar}},
	{name: "badchecksum.dat", corrupt: true, refusals: []ErrorKind{ErrMalformed}},
	// readTNEF skips the attribute it cannot place, as it does cruft
	// after the last one, so this may also be read around and found to
	// hold no meeting.
	{name: "panic.dat", corrupt: true, refusals: []ErrorKind{ErrMalformed, ErrNoCalendar}},
}

// realTNEF is the path of each real TNEF file, failing the test if npm has
// not installed them.
func realTNEF(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, f := range realTNEFFiles {
		path := filepath.Join(npmTNEF, f.name)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("real TNEF file missing: %v\nrun .ci/deps (it installs node-tnef with npm ci --prefix invites/testdata/js)", err)
		}
		paths = append(paths, path)
	}
	return paths
}

// TestReadTNEFAgainstDebianTools decodes real TNEF files and compares what
// we find with two independent decoders: Debian's tnef (the attachments,
// byte for byte) and ytnef's ytnefprint (the message class).
func TestReadTNEFAgainstDebianTools(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"/usr/bin/tnef", "/usr/bin/ytnefprint"} {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("%s not found: run .ci/deps (apt-get install tnef ytnef-tools)", tool)
		}
	}
	classLine := regexp.MustCompile(`(?m)^Message Class: (.*)$`)
	paths := realTNEF(t)
	for i, f := range realTNEFFiles {
		file := paths[i]
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := readTNEF(data)
			// Wrapped in mail as Exchange sends it, every file is read
			// and refused for what it is: mail without a meeting in it,
			// or a broken stream.
			_, perr := ParseMessage(tnefMail(t, "priya.patel@police.example.uk", data))
			if !slices.ContainsFunc(f.refusals, func(k ErrorKind) bool { return errors.Is(perr, k) }) {
				t.Errorf("ParseMessage = %v, want one of %q", perr, f.refusals)
			}
			if f.corrupt {
				if out, terr := exec.Command("/usr/bin/tnef", "-t", "-f", file).CombinedOutput(); terr == nil {
					t.Errorf("Debian's tnef reads it (%s); it is no longer a corrupt example", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("readTNEF: %v", err)
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
				t.Fatalf("tnef: %v\n%s", err, out)
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
			if got, want := len(theirs), f.attachments; got != want {
				t.Errorf("Debian's tnef extracts %d attachments, want %d: the file no longer tests what it did", got, want)
			}
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Errorf("attachments differ from Debian's tnef (-tnef +ours):\n%s", diff)
			}

			cmd := exec.Command("/usr/bin/ytnefprint", file)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			out, err = cmd.CombinedOutput()
			m := classLine.FindSubmatch(out)
			if m == nil {
				t.Fatalf("ytnefprint prints no message class (%v):\n%s", err, out)
			}
			if got, want := msg.class, strings.TrimSpace(string(m[1])); got != want {
				t.Errorf("message class %q, ytnefprint says %q", got, want)
			}
		})
	}
}

// TestReadTNEFLayouts checks the decoder, against Debian's tnef, on
// layouts that Outlook and Exchange write and the real files do not show:
// an attachment's data before its title, data only in the attachment's
// MAPI properties, properties named by string, multi-valued properties,
// and bytes after the last attribute. tnefWriter writes the streams; the
// attachments Debian's tnef extracts from them, and the message class
// ytnefprint reads, show the writer and our reader are not just agreeing.
func TestReadTNEFLayouts(t *testing.T) {
	t.Parallel()
	minutes := []byte("Minutes of the strategy discussion, case CR-2026-0042.\r\n")
	photo := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x42}, 701) // odd length: padding
	note := func(props ...mapiOut) *tnefWriter {
		w := newTNEFWriter()
		w.attr(1, 0x00078008, []byte("IPM.Note\x00"))
		w.attr(1, 0x00069003, mapiBlock(append(props, unicodeProp(prSubject, "Minutes"))))
		return w
	}
	rendData := []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name  string
		tnef  []byte
		files [][]byte                           // the attachments' data, in order
		check func(t *testing.T, m *tnefMessage) // more to check, if any
	}{
		{"title before data", func() []byte {
			w := note()
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x00018010, []byte("minutes.txt\x00"))
			w.attr(2, 0x0006800F, minutes)
			return w.bytes()
		}(), [][]byte{minutes}, nil},
		{"data before title, two attachments", func() []byte {
			w := note()
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x0006800F, minutes)
			w.attr(2, 0x00018010, []byte("minutes.txt\x00"))
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x0006800F, photo)
			w.attr(2, 0x00018010, []byte("photo.jpg\x00"))
			w.attr(2, 0x00069005, mapiBlock([]mapiOut{unicodeProp(prAttachLongFilename, "photo of the scene.jpg")}))
			return w.bytes()
		}(), [][]byte{minutes, photo}, nil},
		{"data only in the MAPI properties", func() []byte {
			w := note()
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x00069005, mapiBlock([]mapiOut{
				unicodeProp(prAttachLongFilename, "photo.jpg"),
				{typ: ptBinary, id: prAttachDataBin, value: photo},
			}))
			return w.bytes()
		}(), [][]byte{photo}, nil},
		{"string-named and multi-valued properties", func() []byte {
			w := note(
				mapiOut{typ: ptString8, id: 0x8000, named: true, guid: psetidMeeting, name: "x-convene-case\x00", value: []byte("CR-2026-0042\x00")},
				mapiOut{typ: ptLong | mvFlag, id: 0x6601, values: [][]byte{le32(7), le32(9), le32(11)}},
				mapiOut{typ: ptUnicode | mvFlag, id: 0x6602, values: [][]byte{utf16le("a\x00"), utf16le("bcd\x00")}},
				mapiOut{typ: ptBinary | mvFlag, id: 0x6603, values: [][]byte{{1, 2, 3}, {4}}},
			)
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x00018010, []byte("minutes.txt\x00"))
			w.attr(2, 0x0006800F, minutes)
			return w.bytes()
		}(), [][]byte{minutes}, func(t *testing.T, m *tnefMessage) {
			var names []string
			var longs [][]byte
			for _, p := range m.props {
				if p.named {
					names = append(names, p.name)
				}
				if p.id == 0x6601 {
					longs = p.values
				}
			}
			if diff := cmp.Diff([]string{"x-convene-case"}, names); diff != "" {
				t.Errorf("property names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([][]byte{le32(7), le32(9), le32(11)}, longs); diff != "" {
				t.Errorf("multi-valued property (-want +got):\n%s", diff)
			}
		}},
		{"bytes after the last attribute", func() []byte {
			w := note()
			w.attr(2, 0x00069002, rendData)
			w.attr(2, 0x00018010, []byte("minutes.txt\x00"))
			w.attr(2, 0x0006800F, minutes)
			return append(w.bytes(), "\r\n\r\n"...) // as a relay that ends every part with a line may leave it
		}(), [][]byte{minutes}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "winmail.dat")
			if err := os.WriteFile(file, tt.tnef, 0o644); err != nil {
				t.Fatal(err)
			}
			msg, err := readTNEF(tt.tnef)
			if err != nil {
				t.Fatalf("readTNEF: %v", err)
			}
			var ours [][]byte
			for _, a := range msg.attachments {
				ours = append(ours, a.data)
			}
			if diff := cmp.Diff(tt.files, ours); diff != "" {
				t.Errorf("attachments (-written +read):\n%s", diff)
			}
			// The properties after the odd ones are still found.
			if got, want := msg.props.tag(prSubject).str(), "Minutes"; got != want {
				t.Errorf("subject %q, want %q", got, want)
			}
			if tt.check != nil {
				tt.check(t, msg)
			}
			if _, err := ParseMessage(tnefMail(t, "priya.patel@police.example.uk", tt.tnef)); !errors.Is(err, ErrNoCalendar) {
				t.Errorf("ParseMessage = %v, want %v", err, ErrNoCalendar)
			}

			dir := t.TempDir()
			out, err := exec.Command("/usr/bin/tnef", "--number-backups", "-C", dir, "-f", file).CombinedOutput()
			if err != nil {
				t.Fatalf("tnef: %v\n%s", err, out)
			}
			var theirs, want []string
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				theirs = append(theirs, digest(b))
			}
			for _, b := range ours {
				want = append(want, digest(b))
			}
			slices.Sort(theirs)
			slices.Sort(want)
			if diff := cmp.Diff(theirs, want); diff != "" {
				t.Errorf("attachments differ from Debian's tnef (-tnef +ours):\n%s", diff)
			}

			cmd := exec.Command("/usr/bin/ytnefprint", file)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			out, err = cmd.CombinedOutput()
			if !bytes.Contains(out, []byte("Message Class: IPM.Note\n")) {
				t.Errorf("ytnefprint does not read the message class (%v):\n%s", err, out)
			}
			// ytnefprint counts the message's MAPI properties first.
			if m := regexp.MustCompile(`MAPI Properties: (\d+)`).FindSubmatch(out); m == nil {
				t.Errorf("ytnefprint lists no MAPI properties:\n%s", out)
			} else if got, want := strconv.Itoa(len(msg.props)), string(m[1]); got != want {
				t.Errorf("%s message properties read, ytnefprint reads %s:\n%s", got, want, out)
			}
		})
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

// The synthetic fixtures. No real TNEF meeting reply could be had from a
// package registry, so these are written by tnefWriter below, following
// [MS-OXTNEF] and the properties [MS-OXOCAL] gives a meeting response, and
// checked with ytnefprint, an independent decoder.
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

// mapiOut is one property to write: one value, or for a multi-valued
// type (mvFlag set) several.
type mapiOut struct {
	typ    uint16
	id     uint16
	named  bool
	guid   [16]byte
	lid    uint32
	name   string // a named property named by string (MNID_STRING), not lid
	value  []byte
	values [][]byte
}

func unicodeProp(id uint16, s string) mapiOut {
	return mapiOut{typ: ptUnicode, id: id, value: utf16le(s + "\x00")}
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
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
		if p.named && p.name != "" {
			name := utf16le(p.name)
			b.Write(p.guid[:])
			b.Write(le32(1)) // MNID_STRING
			b.Write(le32(uint32(len(name))))
			writePadded(&b, name)
		} else if p.named {
			b.Write(p.guid[:])
			b.Write(le32(0)) // MNID_ID
			b.Write(le32(p.lid))
		}
		values := [][]byte{p.value}
		if p.typ&mvFlag != 0 {
			values = p.values
			b.Write(le32(uint32(len(values))))
		} else if isVariable(p.typ) {
			b.Write(le32(1))
		}
		for _, v := range values {
			if isVariable(p.typ &^ mvFlag) {
				b.Write(le32(uint32(len(v))))
			}
			writePadded(&b, v)
		}
	}
	return b.Bytes()
}

func writePadded(b *bytes.Buffer, v []byte) {
	b.Write(v)
	for n := len(v); n%4 != 0; n++ {
		b.WriteByte(0)
	}
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
