package invites

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/emersion/go-ical"
	"golang.org/x/text/encoding/charmap"
)

// TNEF (Transport Neutral Encapsulation Format, [MS-OXTNEF]) is how
// Exchange and Outlook send a message to a domain they are told is another
// Exchange: the whole message, meeting replies included, in one
// application/ms-tnef part, usually named winmail.dat. A meeting reply in
// TNEF carries its iCalendar either as an attached .ics or, as Exchange
// does, only as MAPI properties ([MS-OXOCAL]): the message class says
// accepted, tentative or declined, PidLidGlobalObjectId holds the UID, and
// named properties the SEQUENCE, the time of the answer and any proposed
// new time. readTNEF decodes the stream; tnefMessage.calendar turns a
// meeting reply into the iCalendar REPLY or COUNTER it stands for, so the
// rest of the parser reads it like any other.
//
// This is our own decoder, not a library's: no Go TNEF module can be had
// from the module proxy here (github.com/teamwork/tnef and its forks are
// refused), and the part we need is small. The tests check it against two
// independent decoders, Debian's tnef and ytnef, on real TNEF files.

// Limits on a TNEF stream: a meeting reply is a few kilobytes.
const (
	maxTNEFBytes       = DefaultMaxMessageBytes
	maxTNEFAttributes  = 4096
	maxTNEFProps       = 4096
	maxTNEFValues      = 1024
	maxTNEFAttachments = 64
	tnefSignature      = 0x223E9F78
)

// TNEF attribute names (the low word of the attribute ID; [MS-OXTNEF]
// §2.1.3.1). The high word, the attribute's type, is not trusted.
const (
	attMessageClass   = 0x8008
	attSubject        = 0x8004
	attMAPIProps      = 0x9003
	attAttachRendData = 0x9002
	attAttachTitle    = 0x8010
	attAttachData     = 0x800F
	attAttachment     = 0x9005
)

// MAPI property types ([MS-OXCDATA] §2.11.1).
const (
	ptShort    = 0x0002
	ptLong     = 0x0003
	ptFloat    = 0x0004
	ptDouble   = 0x0005
	ptCurrency = 0x0006
	ptAppTime  = 0x0007
	ptError    = 0x000A
	ptBoolean  = 0x000B
	ptObject   = 0x000D
	ptI8       = 0x0014
	ptString8  = 0x001E
	ptUnicode  = 0x001F
	ptSysTime  = 0x0040
	ptCLSID    = 0x0048
	ptBinary   = 0x0102
	ptNull     = 0x0001
	mvFlag     = 0x1000
)

// MAPI property IDs read from a meeting message ([MS-OXPROPS]).
const (
	prMessageClass             = 0x001A
	prSubject                  = 0x0037
	prClientSubmitTime         = 0x0039
	prSentRepresentingName     = 0x0042
	prSentRepresentingAddrType = 0x0064
	prSentRepresentingEmail    = 0x0065
	prSenderAddrType           = 0x0C1E
	prSenderEmail              = 0x0C1F
	prSenderSMTP               = 0x5D01
	prSentRepresentingSMTP     = 0x5D02
	prAttachDataBin            = 0x3701
	prAttachLongFilename       = 0x3707
	prAttachMimeTag            = 0x370E
	prAttachFilename           = 0x3704
)

// Named properties: a property set GUID (in MAPI's byte order) and a long
// ID ([MS-OXPROPS]).
var (
	psetidMeeting     = [16]byte{0x90, 0xDA, 0xD8, 0x6E, 0x0B, 0x45, 0x1B, 0x10, 0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05}
	psetidAppointment = [16]byte{0x02, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}
)

const (
	lidAttendeeCriticalChange = 0x0001 // PSETID_Meeting: when the attendee answered
	lidGlobalObjectID         = 0x0003 // PSETID_Meeting
	lidCleanGlobalObjectID    = 0x0023 // PSETID_Meeting
	lidAppointmentSequence    = 0x8201 // PSETID_Appointment
	lidStartWhole             = 0x820D
	lidEndWhole               = 0x820E
	lidProposedStartWhole     = 0x8250
	lidProposedEndWhole       = 0x8251
	lidCounterProposal        = 0x8257
)

// globalObjectIDPrefix starts every PidLidGlobalObjectId ([MS-OXOCAL]
// §2.2.1.27); vCalUIDMarker starts its Data when the meeting came from
// iCalendar, followed by the UID as sent.
var (
	globalObjectIDPrefix = []byte{0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08}
	vCalUIDMarker        = []byte("vCal-Uid\x01\x00\x00\x00")
)

// mapiProp is one MAPI property: its type and ID, or for a named property
// (ID 0x8000 and up) its set and long ID or name, and its raw values.
type mapiProp struct {
	typ    uint16
	id     uint16
	named  bool
	guid   [16]byte
	lid    uint32
	name   string
	values [][]byte
}

type mapiProps []mapiProp

// tnefAttachment is one attachment of a TNEF message.
type tnefAttachment struct {
	title string
	data  []byte
	props mapiProps
}

// tnefMessage is what readTNEF decodes.
type tnefMessage struct {
	class       string
	subject     string
	props       mapiProps
	attachments []*tnefAttachment
}

// readTNEF decodes a TNEF stream. It is lenient where Exchange and the
// tools that rewrite its mail are sloppy (checksums, bytes after the last
// attribute) and strict where a hostile stream could make it work: every
// length is checked against what remains, and counts are bounded.
func readTNEF(data []byte) (*tnefMessage, error) {
	if len(data) > maxTNEFBytes {
		return nil, fmt.Errorf("TNEF stream is %d bytes, limit %d", len(data), maxTNEFBytes)
	}
	if len(data) < 6 || binary.LittleEndian.Uint32(data) != tnefSignature {
		return nil, fmt.Errorf("no TNEF signature")
	}
	r := data[6:] // signature, then a legacy key we do not need
	msg := &tnefMessage{}
	var att *tnefAttachment
	for n := 0; len(r) >= 9; n++ {
		if n >= maxTNEFAttributes {
			return nil, fmt.Errorf("more than %d TNEF attributes", maxTNEFAttributes)
		}
		level := r[0]
		name := binary.LittleEndian.Uint16(r[1:])
		size := binary.LittleEndian.Uint32(r[5:])
		if uint64(size)+2 > uint64(len(r)-9) {
			break // truncated, or cruft after the last attribute
		}
		value := r[9 : 9+size]
		r = r[9+size+2:] // the checksum is not checked: rewriting relays break it
		switch level {
		case 1: // the message
			switch name {
			case attMessageClass:
				msg.class = cString(value)
			case attSubject:
				msg.subject = cString(value)
			case attMAPIProps:
				props, err := readMAPIProps(value)
				if err != nil {
					return nil, err
				}
				msg.props = append(msg.props, props...)
			}
		case 2: // an attachment
			if name == attAttachRendData || att == nil {
				if len(msg.attachments) >= maxTNEFAttachments {
					return nil, fmt.Errorf("more than %d TNEF attachments", maxTNEFAttachments)
				}
				att = &tnefAttachment{}
				msg.attachments = append(msg.attachments, att)
			}
			switch name {
			case attAttachTitle:
				att.title = cString(value)
			case attAttachData:
				att.data = value
			case attAttachment:
				props, err := readMAPIProps(value)
				if err != nil {
					return nil, err
				}
				att.props = append(att.props, props...)
				if att.data == nil {
					if p := props.tag(prAttachDataBin); p != nil && len(p.values) > 0 {
						att.data = p.values[0]
					}
				}
			}
		}
	}
	return msg, nil
}

// readMAPIProps decodes a property list ([MS-OXTNEF] §2.1.3.4): a count,
// then each property's tag, name if named, and values, every value padded
// to four bytes.
func readMAPIProps(b []byte) (mapiProps, error) {
	d := decoder{b: b}
	count := d.u32()
	if count > maxTNEFProps {
		return nil, fmt.Errorf("TNEF property list of %d properties", count)
	}
	var props mapiProps
	for i := uint32(0); i < count && d.err == nil; i++ {
		p := mapiProp{typ: d.u16(), id: d.u16()}
		if p.id >= 0x8000 {
			p.named = true
			copy(p.guid[:], d.bytes(16))
			switch d.u32() {
			case 0:
				p.lid = d.u32()
			case 1:
				n := d.u32()
				p.name = utf16String(d.padded(n))
			default:
				d.fail()
			}
		}
		base := p.typ &^ mvFlag
		nvalues := uint32(1)
		multi := p.typ&mvFlag != 0
		if multi || isVariable(base) {
			nvalues = d.u32()
			if nvalues > maxTNEFValues {
				d.fail()
			}
		}
		for j := uint32(0); j < nvalues && d.err == nil; j++ {
			if isVariable(base) {
				p.values = append(p.values, d.padded(d.u32()))
				continue
			}
			size := fixedSize(base)
			if size == 0 {
				// A type whose size we cannot know: the rest of the list
				// cannot be found. Keep what was read.
				return props, nil
			}
			p.values = append(p.values, d.padded(size))
		}
		if d.err != nil {
			break
		}
		props = append(props, p)
	}
	return props, nil
}

func isVariable(t uint16) bool {
	return t == ptString8 || t == ptUnicode || t == ptBinary || t == ptObject
}

// fixedSize is the size of a fixed-length value; 0 if not one.
func fixedSize(t uint16) uint32 {
	switch t {
	case ptShort, ptBoolean:
		return 2
	case ptLong, ptFloat, ptError, ptNull:
		return 4
	case ptDouble, ptCurrency, ptAppTime, ptI8, ptSysTime:
		return 8
	case ptCLSID:
		return 16
	}
	return 0
}

// decoder reads little-endian values, failing once and for good when the
// data runs out.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("TNEF property list truncated")
	}
	d.b = nil
}

func (d *decoder) bytes(n uint32) []byte {
	if d.err != nil || uint64(n) > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// padded reads n bytes and skips the padding to the next multiple of 4.
func (d *decoder) padded(n uint32) []byte {
	v := d.bytes(n)
	if pad := (4 - n%4) % 4; pad > 0 && d.err == nil {
		if uint32(len(d.b)) < pad {
			d.b = nil // the last value's padding may be missing
		} else {
			d.b = d.b[pad:]
		}
	}
	return v
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (ps mapiProps) tag(id uint16) *mapiProp {
	for i := range ps {
		if !ps[i].named && ps[i].id == id && len(ps[i].values) > 0 {
			return &ps[i]
		}
	}
	return nil
}

func (ps mapiProps) namedLID(set [16]byte, lid uint32) *mapiProp {
	for i := range ps {
		if ps[i].named && ps[i].guid == set && ps[i].lid == lid && ps[i].name == "" && len(ps[i].values) > 0 {
			return &ps[i]
		}
	}
	return nil
}

// str reads a string property: UTF-16LE for PT_UNICODE, Windows-1252 for
// PT_STRING8 (what Exchange writes for western mail).
func (p *mapiProp) str() string {
	if p == nil {
		return ""
	}
	v := p.values[0]
	switch p.typ {
	case ptUnicode:
		return strings.TrimRight(utf16String(v), "\x00")
	case ptString8:
		s, err := charmap.Windows1252.NewDecoder().Bytes(bytes.TrimRight(v, "\x00"))
		if err != nil {
			return ""
		}
		return string(s)
	}
	return ""
}

func (p *mapiProp) long() (int64, bool) {
	if p == nil {
		return 0, false
	}
	v := p.values[0]
	switch {
	case p.typ == ptLong && len(v) >= 4:
		return int64(int32(binary.LittleEndian.Uint32(v))), true
	case (p.typ == ptShort || p.typ == ptBoolean) && len(v) >= 2:
		return int64(int16(binary.LittleEndian.Uint16(v))), true
	}
	return 0, false
}

// time reads a PT_SYSTIME: 100-nanosecond intervals since 1601 in UTC.
func (p *mapiProp) time() time.Time {
	if p == nil || p.typ != ptSysTime || len(p.values[0]) < 8 {
		return time.Time{}
	}
	ft := binary.LittleEndian.Uint64(p.values[0])
	// 1601 to 1970 in 100 ns units. Times before 1970, or from 4500 on
	// (Outlook writes 4501-01-01 for "none"), are no use here.
	const epoch = 116444736000000000
	const limit = (32503680000 + 11644473600 + 2500*31556952) * 10000000 // about 4500-01-01
	if ft < epoch || ft >= limit {
		return time.Time{}
	}
	d := ft - epoch
	return time.Unix(int64(d/10000000), int64(d%10000000)*100).UTC()
}

func (p *mapiProp) binary() []byte {
	if p == nil || p.typ != ptBinary {
		return nil
	}
	return p.values[0]
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	s := string(utf16.Decode(u))
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// meetingUID reads the iCalendar UID from a Global Object ID ([MS-OXCICAL]
// §2.1.3.1.1.20.26): the UID as sent when the meeting came from iCalendar
// (the vCal-Uid form, which ours take), or else the ID in upper-case hex
// with the instance date cleared, as Exchange writes it into iCalendar.
func meetingUID(id []byte) string {
	const dataOffset = 40 // prefix 16, instance date 4, creation time 8, reserved 8, size 4
	if len(id) < dataOffset || !bytes.Equal(id[:16], globalObjectIDPrefix) {
		return ""
	}
	size := binary.LittleEndian.Uint32(id[36:])
	data := id[dataOffset:]
	if uint64(size) <= uint64(len(data)) {
		data = data[:size]
	}
	if bytes.HasPrefix(data, vCalUIDMarker) {
		return strings.TrimSpace(cString(data[len(vCalUIDMarker):]))
	}
	clean := append([]byte(nil), id...)
	copy(clean[16:20], []byte{0, 0, 0, 0})
	return strings.ToUpper(hex.EncodeToString(clean))
}

// calendarAttachment returns an iCalendar object attached to the TNEF
// message, if any: Outlook attaches one when it sends to a non-Exchange
// recipient with TNEF left on.
func (m *tnefMessage) calendarAttachment() []byte {
	for _, a := range m.attachments {
		mt := strings.ToLower(a.props.tag(prAttachMimeTag).str())
		name := strings.ToLower(a.props.tag(prAttachLongFilename).str())
		if name == "" {
			name = strings.ToLower(a.props.tag(prAttachFilename).str())
		}
		if name == "" {
			name = strings.ToLower(a.title)
		}
		if strings.HasPrefix(mt, "text/calendar") || mt == "application/ics" ||
			strings.HasSuffix(name, ".ics") || strings.HasSuffix(name, ".vcs") {
			if len(a.data) > 0 {
				return a.data
			}
		}
	}
	return nil
}

// calendar turns a TNEF meeting message into the iCalendar object it stands
// for. from is the message's From address, used for the attendee when the
// MAPI properties name the sender only by an Exchange (X.500) address.
func (m *tnefMessage) calendar(from string) (*ical.Calendar, error) {
	if ics := m.calendarAttachment(); ics != nil {
		return decodeCalendar(ics)
	}
	class := m.class
	if c := m.props.tag(prMessageClass).str(); c != "" {
		class = c
	}
	method, stat := MethodReply, PartStat("")
	switch u := strings.ToUpper(class); {
	case strings.HasPrefix(u, "IPM.SCHEDULE.MEETING.RESP.POS"):
		stat = PartStatAccepted
	case strings.HasPrefix(u, "IPM.SCHEDULE.MEETING.RESP.NEG"):
		stat = PartStatDeclined
	case strings.HasPrefix(u, "IPM.SCHEDULE.MEETING.RESP.TENT"):
		stat = PartStatTentative
		if v, ok := m.props.namedLID(psetidAppointment, lidCounterProposal).long(); ok && v != 0 {
			method = MethodCounter
		}
	case strings.HasPrefix(u, "IPM.SCHEDULE.MEETING.REQUEST"):
		method = MethodRequest
	case strings.HasPrefix(u, "IPM.SCHEDULE.MEETING.CANCELED"):
		method = MethodCancel
	default:
		return nil, &ParseError{Kind: ErrNoCalendar, Detail: fmt.Sprintf("TNEF message of class %.60q is no meeting message", class)}
	}

	cal := ical.NewCalendar()
	setRaw(cal.Component, ical.PropMethod, string(method))
	setRaw(cal.Component, ical.PropProductID, "TNEF (MAPI properties)")
	ev := ical.NewComponent(ical.CompEvent)
	cal.Children = append(cal.Children, ev)

	uid := meetingUID(m.props.namedLID(psetidMeeting, lidGlobalObjectID).binary())
	if uid == "" {
		uid = meetingUID(m.props.namedLID(psetidMeeting, lidCleanGlobalObjectID).binary())
	}
	if uid != "" {
		setRaw(ev, ical.PropUID, uid)
	}
	if seq, ok := m.props.namedLID(psetidAppointment, lidAppointmentSequence).long(); ok && seq >= 0 {
		setRaw(ev, ical.PropSequence, strconv.FormatInt(seq, 10))
	}
	stamp := m.props.namedLID(psetidMeeting, lidAttendeeCriticalChange).time()
	if stamp.IsZero() {
		stamp = m.props.tag(prClientSubmitTime).time()
	}
	if !stamp.IsZero() {
		setUTC(ev, ical.PropDateTimeStamp, stamp)
	}
	subject := m.props.tag(prSubject).str()
	if subject == "" {
		subject = m.subject
	}
	if subject != "" {
		ev.Props.SetText(ical.PropSummary, cleanText(subject))
	}

	start := m.props.namedLID(psetidAppointment, lidStartWhole).time()
	end := m.props.namedLID(psetidAppointment, lidEndWhole).time()
	if method == MethodCounter {
		ps := m.props.namedLID(psetidAppointment, lidProposedStartWhole).time()
		pe := m.props.namedLID(psetidAppointment, lidProposedEndWhole).time()
		if !start.IsZero() && !end.IsZero() {
			setUTC(ev, "X-MS-OLK-ORIGINALSTART", start)
			setUTC(ev, "X-MS-OLK-ORIGINALEND", end)
		}
		start, end = ps, pe
	}
	if !start.IsZero() && !end.IsZero() {
		setUTC(ev, ical.PropDateTimeStart, start)
		setUTC(ev, ical.PropDateTimeEnd, end)
	}

	if stat != "" {
		attendee := smtpAddress(m.props, prSentRepresentingSMTP, prSentRepresentingEmail, prSentRepresentingAddrType)
		if attendee == "" {
			attendee = from
		}
		sender := smtpAddress(m.props, prSenderSMTP, prSenderEmail, prSenderAddrType)
		if attendee != "" {
			p := calAddress(ical.PropAttendee, m.props.tag(prSentRepresentingName).str(), attendee)
			p.Params.Set(ical.ParamParticipationStatus, string(stat))
			if sender != "" && !strings.EqualFold(sender, attendee) {
				p.Params.Set(ical.ParamSentBy, "mailto:"+sender)
			}
			ev.Props.Add(p)
		}
	}
	return cal, nil
}

// smtpAddress reads an SMTP address: the *_SMTP_ADDRESS property, or the
// *_EMAIL_ADDRESS one when its address type is SMTP (it may instead be an
// Exchange X.500 DN, which is no email address).
func smtpAddress(ps mapiProps, smtpID, emailID, typeID uint16) string {
	if a := mailtoAddress(ps.tag(smtpID).str()); a != "" {
		return a
	}
	if strings.EqualFold(ps.tag(typeID).str(), "SMTP") {
		return mailtoAddress(ps.tag(emailID).str())
	}
	return ""
}
