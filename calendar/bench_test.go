package calendar_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

// A year of someone's calendar, as the benchmarks use it: about 1,500
// single events on working days (London, UTC and Outlook's "GMT Standard
// Time", some all-day) and nine series giving about 500 more instances (a
// weekday stand-up, weekly meetings, some with EXDATEs), so that a quarter
// of the busy time comes from recurrence.
const (
	benchSingles  = 1500
	benchAttendee = 12
)

var benchYear = calendar.Interval{Start: utc("2025-01-01T00:00:00Z"), End: utc("2026-01-01T00:00:00Z")}

// benchObjects returns attendee n's calendar as separate iCalendar
// objects: singles single events and the nine series.
func benchObjects(n, singles int) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(n), 2025))
	var objs [][]byte
	const head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//convene//bench//EN\r\n"
	const outlookTZ = "BEGIN:VTIMEZONE\r\nTZID:GMT Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011028T020000\r\n" +
		"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:-0000\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:16010325T010000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n" +
		"TZOFFSETFROM:-0000\r\nTZOFFSETTO:+0100\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
	day0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < singles; i++ {
		var d time.Time
		for {
			d = day0.AddDate(0, 0, rng.IntN(365))
			if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
				break
			}
		}
		start := d.Add(8*time.Hour + time.Duration(rng.IntN(38))*15*time.Minute)
		end := start.Add(time.Duration(1+rng.IntN(4)) * 30 * time.Minute)
		var b strings.Builder
		b.WriteString(head)
		uid := fmt.Sprintf("single-%d-%d@bench", n, i)
		switch k := rng.IntN(50); {
		case k == 0:
			fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\nSUMMARY:All day\r\nEND:VEVENT\r\n",
				uid, d.Format("20060102"), d.AddDate(0, 0, 1).Format("20060102"))
		case k < 10:
			fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:UTC\r\nEND:VEVENT\r\n",
				uid, start.Format("20060102T150405Z"), end.Format("20060102T150405Z"))
		case k < 20:
			b.WriteString(outlookTZ)
			fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;TZID=\"GMT Standard Time\":%s\r\nDTEND;TZID=\"GMT Standard Time\":%s\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nSUMMARY:Outlook\r\nEND:VEVENT\r\n",
				uid, start.Format("20060102T150405"), end.Format("20060102T150405"))
		default:
			fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Europe/London:%s\r\nDTEND;TZID=Europe/London:%s\r\nSUMMARY:London\r\nEND:VEVENT\r\n",
				uid, start.Format("20060102T150405"), end.Format("20060102T150405"))
		}
		b.WriteString("END:VCALENDAR\r\n")
		objs = append(objs, []byte(b.String()))
	}
	series := []string{
		"DTSTART;TZID=Europe/London:20250106T091500\r\nDTEND;TZID=Europe/London:20250106T093000\r\nRRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=100\r\n",
	}
	for s := 0; s < 8; s++ {
		wd := []string{"MO", "TU", "WE", "TH", "FR"}[s%5]
		first := time.Date(2025, 1, 6+s%5, 10+s%6, 0, 0, 0, time.UTC)
		rule := fmt.Sprintf("DTSTART;TZID=Europe/London:%s\r\nDTEND;TZID=Europe/London:%s\r\nRRULE:FREQ=WEEKLY;BYDAY=%s;COUNT=50\r\n",
			first.Format("20060102T150405"), first.Add(time.Hour).Format("20060102T150405"), wd)
		if s%2 == 0 {
			rule += "EXDATE;TZID=Europe/London:" + first.AddDate(0, 0, 21).Format("20060102T150405") + "," +
				first.AddDate(0, 0, 70).Format("20060102T150405") + "\r\n"
		}
		series = append(series, rule)
	}
	for s, body := range series {
		objs = append(objs, []byte(head+fmt.Sprintf("BEGIN:VEVENT\r\nUID:series-%d-%d@bench\r\nDTSTAMP:20250101T000000Z\r\n", n, s)+
			body+"SUMMARY:Series\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	}
	return objs
}

// benchFeed joins attendee n's objects into one feed.
func benchFeed(n int) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//convene//bench//EN\r\n")
	for _, o := range benchObjects(n, benchSingles) {
		s := string(o)
		s = s[strings.Index(s, "\r\nBEGIN:V")+2:]
		s = strings.TrimSuffix(s, "END:VCALENDAR\r\n")
		b.WriteString(s)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

// benchBusy computes every attendee's busy time for the year.
func benchBusy(b *testing.B) [][]calendar.Interval {
	b.Helper()
	var all [][]calendar.Interval
	for n := 0; n < benchAttendee; n++ {
		res, err := calendar.BusyFromICS(bytes.NewReader(benchFeed(n)), benchYear, calendar.BusyOptions{Zone: london(b)})
		if err != nil || res.Skipped != 0 {
			b.Fatalf("attendee %d: %v, skipped %d", n, err, res.Skipped)
		}
		ivs := make([]calendar.Interval, len(res.Busy))
		for i, x := range res.Busy {
			ivs[i] = x.Interval
		}
		rand.New(rand.NewPCG(uint64(n), 1)).Shuffle(len(ivs), func(i, j int) { ivs[i], ivs[j] = ivs[j], ivs[i] })
		all = append(all, ivs)
	}
	return all
}

// BenchmarkFindSlots is the finder over 12 attendees with a year of busy
// time each (unsorted, as sources return them), for a 5-working-day window
// at 15-minute granularity.
func BenchmarkFindSlots(b *testing.B) {
	busy := benchBusy(b)
	total := 0
	for _, ivs := range busy {
		total += len(ivs)
	}
	b.Logf("%d attendees, %d busy intervals in the year (%.0f each)", len(busy), total, float64(total)/float64(len(busy)))
	for _, essential := range []int{12, 4} {
		b.Run(fmt.Sprintf("essential=%d", essential), func(b *testing.B) {
			q := calendar.SlotQuery{
				Duration: time.Hour,
				Earliest: time.Date(2025, 6, 9, 9, 0, 0, 0, london(b)),
				Deadline: time.Date(2025, 6, 13, 17, 0, 0, 0, london(b)),
			}
			for n, ivs := range busy {
				q.Attendees = append(q.Attendees, calendar.Attendee{ID: fmt.Sprintf("a%d@example.org", n), Essential: n < essential, Busy: ivs})
			}
			b.ReportAllocs()
			var res calendar.SlotResult
			for b.Loop() {
				var err error
				if res, err = calendar.FindSlots(q); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("essential=%d: %d slots, reason %q, best %v", essential, len(res.Slots), res.Reason, res.Slots[0].Start)
		})
	}
}

// BenchmarkSortAllBusy is the floor for the finder: sorting every busy
// interval of the 12 attendees once.
func BenchmarkSortAllBusy(b *testing.B) {
	var all []calendar.Interval
	for _, ivs := range benchBusy(b) {
		all = append(all, ivs...)
	}
	work := make([]calendar.Interval, len(all))
	b.ReportAllocs()
	for b.Loop() {
		copy(work, all)
		slices.SortFunc(work, func(a, b calendar.Interval) int { return a.Start.Compare(b.Start) })
	}
}

// BenchmarkBusyFromICS reads one attendee's year-long feed for one week,
// expanding only within the week.
func BenchmarkBusyFromICS(b *testing.B) {
	feed := benchFeed(0)
	week := calendar.Interval{Start: utc("2025-06-09T00:00:00Z"), End: utc("2025-06-14T00:00:00Z")}
	b.SetBytes(int64(len(feed)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := calendar.BusyFromICS(bytes.NewReader(feed), week, calendar.BusyOptions{Zone: london(b)}); err != nil {
			b.Fatal(err)
		}
	}
}

// radicaleSingles is the single events per attendee on Radicale: a full
// year's 1,500 take Radicale minutes to parse on first read.
const radicaleSingles = 300

// BenchmarkAvailabilityRadicale is availability end to end for 12
// attendees, each a Radicale user with 300 single events and nine series
// (about 800 instances over the year), found by discovery from the server
// root, for a one-week window. Three set-ups: all twelve on one Radicale
// over loopback; the same through a proxy adding 20 ms each way (40 ms
// round trips, a remote server); and each attendee on a Radicale of their
// own behind such a proxy, as people in different organisations are. Each
// reports the fan-out's total time against the slowest attendee's query in
// the same fan-out, the slowest attendee's query made alone, and the sum of
// the twelve queries made one after another.
func BenchmarkAvailabilityRadicale(b *testing.B) {
	week := calendar.Interval{Start: utc("2025-06-09T00:00:00Z"), End: utc("2025-06-14T00:00:00Z")}
	type account struct {
		r          *caltest.Radicale
		user, pass string
	}
	fill := func(r *caltest.Radicale, n int) account {
		a := account{r, fmt.Sprintf("user%02d", n), fmt.Sprintf("pass%02d", n)}
		r.AddUser(b, a.user, a.pass)
		cal := r.CreateCalendar(b, a.user, "calendar")
		for i, obj := range benchObjects(n, radicaleSingles) {
			cal.Store(b, fmt.Sprintf("event-%04d.ics", i), obj)
		}
		return a
	}
	shared := caltest.StartRadicale(b)
	var onShared, onOwn []account
	for n := 0; n < benchAttendee; n++ {
		onShared = append(onShared, fill(shared, n))
		onOwn = append(onOwn, fill(caltest.StartRadicale(b), n))
	}
	proxies := map[*caltest.Radicale]string{}
	sources := func(accounts []account, oneWay time.Duration) []calendar.AttendeeSource {
		var out []calendar.AttendeeSource
		for _, a := range accounts {
			base := a.r.URL
			if oneWay > 0 {
				if proxies[a.r] == "" {
					proxies[a.r] = latencyProxy(b, strings.TrimSuffix(strings.TrimPrefix(a.r.URL, "http://"), "/"), oneWay) + "/"
				}
				base = proxies[a.r]
			}
			out = append(out, calendar.AttendeeSource{
				ID:      a.user + "@example.org",
				Source:  &calendar.CalDAV{URL: base, Credential: calendar.Credential{Username: a.user, Password: a.pass}, Policy: allowLoopback},
				Options: calendar.BusyOptions{Zone: london(b)},
			})
		}
		return out
	}
	for _, setup := range []struct {
		name      string
		attendees []calendar.AttendeeSource
	}{
		{"one server/rtt=0", sources(onShared, 0)},
		{"one server/rtt=40ms", sources(onShared, 20*time.Millisecond)},
		{"server each/rtt=40ms", sources(onOwn, 20*time.Millisecond)},
	} {
		b.Run(setup.name, func(b *testing.B) { benchFanout(b, setup.attendees, week) })
	}
}

func benchFanout(b *testing.B, attendees []calendar.AttendeeSource, week calendar.Interval) {
	ctx := context.Background()
	opts := calendar.AvailabilityOptions{SourceTimeout: 5 * time.Minute, Budget: 5 * time.Minute}
	check := func(res []calendar.AttendeeBusy) {
		for _, a := range res {
			if a.Availability != calendar.Known || len(a.Busy) == 0 {
				b.Fatalf("%s: %s %s (%v), %d busy", a.ID, a.Availability, a.Reason, a.Err, len(a.Busy))
			}
		}
	}
	// The first read makes Radicale parse and cache every object.
	check(calendar.Availability(ctx, attendees, week, opts))

	// Each attendee alone, a few rounds: the slowest single query, and the
	// mean time of the twelve one after another.
	var alone, sequential time.Duration
	const rounds = 5
	for range rounds {
		for _, a := range attendees {
			res := calendar.Availability(ctx, []calendar.AttendeeSource{a}, week, opts)
			check(res)
			alone = max(alone, res[0].Elapsed)
			sequential += res[0].Elapsed
		}
	}
	sequential /= rounds

	var total, slowest time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		res := calendar.Availability(ctx, attendees, week, opts)
		total += time.Since(start)
		check(res)
		var s time.Duration
		for _, a := range res {
			s = max(s, a.Elapsed)
		}
		slowest += s
		n++
	}
	mean := total / time.Duration(n)
	slowest /= time.Duration(n)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(mean), "total-ms")
	b.ReportMetric(ms(slowest), "slowest-in-fanout-ms")
	b.ReportMetric(ms(alone), "slowest-alone-ms")
	b.ReportMetric(ms(sequential), "sequential-ms")
	b.ReportMetric(float64(mean)/float64(slowest), "total/slowest-in-fanout")
	b.ReportMetric(float64(mean)/float64(alone), "total/slowest-alone")
	b.ReportMetric(float64(mean)/float64(sequential), "total/sequential")
}

// latencyProxy forwards TCP connections to target, delivering every chunk
// oneWay later in each direction, as a distant server would.
func latencyProxy(b *testing.B, target string, oneWay time.Duration) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		type chunk struct {
			data []byte
			due  time.Time
		}
		q := make(chan chunk, 1024)
		go func() {
			defer close(q)
			for {
				buf := make([]byte, 64<<10)
				n, err := src.Read(buf)
				if n > 0 {
					q <- chunk{buf[:n], time.Now().Add(oneWay)}
				}
				if err != nil {
					return
				}
			}
		}()
		for c := range q {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	b.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + l.Addr().String()
}
