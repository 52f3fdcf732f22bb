package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The benchmarks run on a database seeded once per size in the run: n
// realistic discussions (about 10 invitees and 20 events each, deadlines
// over four years, most concluded) among a directory of people, written in
// one transaction.
//
//	go test -run '^$' -bench 'Store/n=100000' -benchtime 2000x ./service/sqlite/

// now is the seeded world's present: deadlines before it are mostly done.
var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

var (
	seedMu sync.Mutex
	seeded = map[int]*seededStore{}
)

type seededStore struct {
	s      *Store
	dir    string
	w      *world
	mu     sync.Mutex
	revs   map[[2]int]int64 // discussion, invitee → rev
	vers   map[int]int64    // discussion → version
	serial int
}

// closeSeeded closes and removes the seeded databases (from TestMain).
func closeSeeded() {
	seedMu.Lock()
	defer seedMu.Unlock()
	for _, ss := range seeded {
		_ = ss.s.Close()
		_ = os.RemoveAll(ss.dir)
	}
}

func seed(b *testing.B, n int) *seededStore {
	seedMu.Lock()
	defer seedMu.Unlock()
	if ss := seeded[n]; ss != nil {
		return ss
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("convene-bench-%d-", n))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, dir) // the schema
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	// Seeding is a bulk load, not what is measured: one transaction on a
	// connection of its own with no journal, a large cache, and no
	// foreign-key checks (the generator keeps them).
	w := newWorld(n)
	start := time.Now()
	raw, err := sql.Open("sqlite", "file:"+dir+"/"+dbFile+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)"+
		"&_pragma=cache_size(-262144)&_pragma=locking_mode(EXCLUSIVE)&_pragma=foreign_keys(0)")
	if err != nil {
		b.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	rawTx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	tx := &txn{Tx: rawTx, ctx: ctx, cache: newStmtCache(raw)}
	for i := range n {
		d := w.discussion(i)
		c, err := encodeDiscussion(d)
		if err != nil {
			b.Fatal(err)
		}
		if err := insertDiscussion(ctx, tx, d, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := rawTx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"ANALYZE", "PRAGMA journal_mode=WAL"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			b.Fatal(q, err)
		}
	}
	if err := raw.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(dir + "/" + dbFile)
	fmt.Printf("seeded %d discussions in %v (%.0f MB)\n", n, time.Since(start).Round(time.Millisecond), float64(fi.Size())/1e6)
	if s, err = Open(ctx, dir); err != nil {
		b.Fatal(err)
	}
	ss := &seededStore{s: s, dir: dir, w: w, revs: map[[2]int]int64{}, vers: map[int]int64{}}
	seeded[n] = ss
	return ss
}

// world generates the same realistic discussions from their numbers.
type world struct {
	n      int
	people []service.Invitee // the directory, as invitees
	chairs []service.Invitee
}

var agencies = []policy.Agency{policy.AgencyPolice, policy.AgencyHealth, policy.AgencyEducation, policy.AgencySocialCare,
	policy.AgencyProbation, policy.AgencyHousing, policy.AgencyMidwifery, policy.AgencyLegal}

func newWorld(n int) *world {
	w := &world{n: n}
	// One person for every 25 discussions: about 250 discussions each.
	for i := range max(n/25, 200) {
		a := agencies[i%len(agencies)]
		w.people = append(w.people, service.Invitee{PersonID: fmt.Sprintf("p%05d", i), Name: fmt.Sprintf("Person %d", i),
			Email: fmt.Sprintf("person.%05d@%s.example.org", i, a), Agency: a, Role: "practitioner", Seniority: 1 + i%5,
			SeniorityLabel: "Level " + fmt.Sprint(1+i%5), Requirements: []string{string(a)}})
	}
	for i := range max(n/500, 20) {
		w.chairs = append(w.chairs, service.Invitee{PersonID: fmt.Sprintf("c%04d", i), Name: fmt.Sprintf("Chair %d", i),
			Email: fmt.Sprintf("chair.%04d@council.example.org", i), Agency: policy.AgencySocialCare, Role: "team_manager",
			Seniority: 4, SeniorityLabel: "Team manager", Chair: true, Essential: true, Requirements: []string{"chair"}})
	}
	return w
}

func (w *world) rand(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 0x5eed)) }

func (w *world) id(i int) string { return fmt.Sprintf("d%07d", i) }

// discussion returns discussion i as created.
func (w *world) discussion(i int) *service.Discussion {
	r := w.rand(i)
	// Deadlines over four years up to a fortnight ahead, about in creation
	// order, to the hour: about 1 in 100 is still to come.
	span := 4*365*24*time.Hour + 14*24*time.Hour
	deadline := now.Add(-4*365*24*time.Hour + span/time.Duration(w.n)*time.Duration(i) + time.Duration(r.IntN(72)-36)*time.Hour).Truncate(time.Hour)
	created := deadline.Add(-time.Duration(24+r.IntN(72)) * time.Hour)
	status := service.StatusProposed
	switch past := deadline.Before(now); {
	case past && deadline.Before(now.Add(-7*24*time.Hour)):
		status = service.StatusConcluded
		if r.IntN(10) == 0 {
			status = service.StatusCancelled
		}
	case past:
		status = []service.DiscussionStatus{service.StatusBooked, service.StatusInProgress, service.StatusConcluded}[r.IntN(3)]
	case r.IntN(5) < 2:
		status = service.StatusBooked
	}
	done := status == service.StatusConcluded || status == service.StatusCancelled || status == service.StatusInProgress
	age := r.IntN(17)
	d := &service.Discussion{
		ID: w.id(i), CaseReference: fmt.Sprintf("CR-%06d", i-i%3), Status: status, UID: w.id(i) + "@convene.example.org",
		Case: policy.Case{
			TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAG([]string{"red", "amber", "green"}[r.IntN(3)]),
				Concerns: []policy.Concern{"serious_physical_injury", "sexual_abuse"}[:1+r.IntN(2)], ReferralReceivedAt: created},
			Child:               policy.Child{AgeYears: &age, SchoolOrNursery: "St Anne's Primary"},
			MedicalExamination:  "possible",
			InterpreterLanguage: []string{"", "", "", "Polish", "BSL"}[r.IntN(5)],
		},
		Deadline: deadline,
		Timescale: policy.Timescale{Profile: "default", ProfileVersion: 3, Region: "england-and-wales", TimeZone: "Europe/London", Deadline: deadline,
			BindingRule: policy.RuleRef{ID: "S1", Summary: "Strategy discussion within 3 working days of the referral", Citation: "Working Together 2023 §4.2"},
			Rules: []policy.RuleDeadline{{ID: "S1", Summary: "Strategy discussion within 3 working days", Citation: "WT 2023 §4.2", Unit: "working_days", Within: 3, Deadline: deadline},
				{ID: "G1", Summary: "General", Citation: "local", General: true, Unit: "working_days", Within: 5, Deadline: deadline.Add(48 * time.Hour)}}},
		Attendance: policy.Attendance{Requirements: []policy.Requirement{
			{ID: "chair", Name: "CSC manager as chair", Agencies: []policy.Agency{policy.AgencySocialCare}, MinSeniority: policy.Seniority{Level: 4, Label: "Team manager"}, Essential: true, Chair: true},
			{ID: "police", Name: "police", Agencies: []policy.Agency{policy.AgencyPolice}, MinSeniority: policy.Seniority{Level: 2, Label: "Sergeant"}, Essential: true},
			{ID: "health", Name: "health", Agencies: []policy.Agency{policy.AgencyHealth}, Essential: true},
			{ID: "education", Name: "school", Agencies: []policy.Agency{policy.AgencyEducation}},
		}},
		Format:        policy.FormatDecision{Format: policy.FormatMeeting, Rule: policy.FormatRule{ID: "M1", Summary: "In-patient child: meet", Citation: "002 §3"}},
		Duration:      time.Hour,
		Agenda:        []string{"Information sharing", "Risk analysis", "Decision on s47", "Actions"},
		ProposedSlots: []calendar.Slot{{Start: deadline.Add(-26 * time.Hour), End: deadline.Add(-25 * time.Hour), Score: 91, Free: []string{"a", "b"}}, {Start: deadline.Add(-6 * time.Hour), End: deadline.Add(-5 * time.Hour), Score: 80}},
		CreatedBy:     service.Actor{Subject: "bs-1", Name: "Business support"},
		CreatedAt:     created,
		UpdatedAt:     created,
		Version:       1,
	}
	ev := func(at time.Time, kind, detail string) {
		d.Timeline = append(d.Timeline, service.Event{At: at, Actor: service.Actor{Subject: "system"}, Kind: kind, Detail: detail})
	}
	ev(created, "convened", "by business support")
	chair := w.chairs[r.IntN(len(w.chairs))]
	chair.AddedAt, chair.Reply = created, policy.ReplyNeedsAction
	d.Invitees = append(d.Invitees, chair)
	for len(d.Invitees) < 8+r.IntN(5) {
		p := w.people[r.IntN(len(w.people))]
		if slices.ContainsFunc(d.Invitees, func(v service.Invitee) bool { return v.Email == p.Email }) {
			continue
		}
		p.AddedAt, p.Reply, p.Essential = created, policy.ReplyNeedsAction, r.IntN(2) == 0
		d.Invitees = append(d.Invitees, p)
	}
	if status != service.StatusProposed {
		start := deadline.Add(-time.Duration(2+r.IntN(20)) * time.Hour)
		d.Booking = &service.Booking{ID: "b-" + d.ID, Start: start, End: start.Add(time.Hour), Location: "Room 2, Civic Centre",
			BookedBy: service.Actor{Subject: "bs-1"}, BookedAt: created.Add(time.Hour)}
		d.Sequence = 1
		ev(created.Add(time.Hour), "booked", start.Format(time.RFC3339))
		for k := range d.Invitees {
			d.Outbox = append(d.Outbox, service.MessageRef{ID: fmt.Sprintf("%s:REQUEST:1:%s:0", d.ID, d.Invitees[k].Email), Method: "REQUEST", To: d.Invitees[k].Email, Sequence: 1})
		}
		if r.IntN(20) == 0 {
			d.Breach = &service.Breach{At: start, Reason: "police unavailable before the deadline", Override: true, By: service.Actor{Subject: "chair"}}
		}
	}
	for k := range d.Invitees {
		inv := &d.Invitees[k]
		if d.Booking == nil && r.IntN(2) == 0 {
			continue
		}
		at := created.Add(time.Duration(60+r.IntN(600)) * time.Minute)
		inv.Reply, inv.RepliedAt, inv.ReplySequence = []policy.ReplyStatus{policy.ReplyAccepted, policy.ReplyAccepted, policy.ReplyAccepted, policy.ReplyTentative, policy.ReplyDeclined}[r.IntN(5)], &at, d.Sequence
		ev(at, "reply", inv.Name+" "+string(inv.Reply))
		if r.IntN(30) == 0 {
			inv.Removed = true
			ev(at, "removed", inv.Email)
		}
	}
	if done {
		for k, inv := range d.Invitees[:min(6, len(d.Invitees))] {
			d.CheckIns = append(d.CheckIns, service.CheckIn{ID: fmt.Sprintf("%s-c%d", d.ID, k), PersonID: inv.PersonID, Name: inv.Name, Email: inv.Email,
				Agency: inv.Agency, Role: inv.Role, Seniority: inv.Seniority, PresentFrom: d.Booking.Start, RecordedBy: service.Actor{Subject: "chair"}, RecordedAt: d.Booking.Start})
			ev(d.Booking.Start, "check_in", inv.Name)
		}
		d.Started = &service.Start{At: d.Booking.Start, By: service.Actor{Subject: "chair"}}
		ev(d.Booking.Start, "started", "")
	}
	if status == service.StatusConcluded {
		d.Outcome = &service.Outcome{Outcome: policy.OutcomeS47Enquiry,
			SignsOfSafety: service.SignsOfSafety{Concerns: strings.Repeat("Bruising to the upper arm reported by school. ", 4),
				WorkingWell: "Mother engaged with health visitor.", NeedToKnow: "Whether the injury is consistent with the account.", NeedsToBeDone: "Joint visit; child protection medical."},
			Decisions:    []service.Decision{{Decision: "Section 47 enquiry", Rationale: "Threshold met"}, {Decision: "Child protection medical", Rationale: "Injury unexplained"}},
			Actions:      []service.Action{{Description: "Joint visit", Owner: "Social worker", Agency: policy.AgencySocialCare, Due: deadline.Add(24 * time.Hour), Purpose: "See the child"}, {Description: "Medical", Owner: "Paediatrician", Agency: policy.AgencyHealth, Due: deadline.Add(48 * time.Hour), Purpose: "Examine"}},
			AuthorisedBy: []service.Authoriser{{Name: chair.Name, Agency: chair.Agency, Role: chair.Role}},
			RecordedBy:   service.Actor{Subject: "chair"}, RecordedAt: d.Booking.End}
		ev(d.Booking.End, "concluded", string(d.Outcome.Outcome))
	}
	for len(d.Timeline) < 15+r.IntN(11) {
		ev(created.Add(time.Duration(len(d.Timeline))*time.Minute), "note", "reminder sent")
	}
	if status == service.StatusProposed && r.IntN(50) == 0 {
		d.Pending = []service.PendingMessage{{ID: d.ID + ":REQUEST:0:x:1", Method: "REQUEST", To: d.Invitees[1].Email, Reminder: true}}
	}
	return d
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs op b.N times, timing each call alone (setup outside it), and
// reports the 50th and 99th percentiles of the calls' wall times and
// their mean CPU time.
func timed(b *testing.B, setup func(i int) func() error) {
	b.Helper()
	durs := make([]time.Duration, 0, b.N)
	var cpu time.Duration // the process's CPU time in the calls
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		op := setup(i)
		b.StartTimer()
		c, t := cpuTime(), time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t))
		cpu += cpuTime() - c
	}
	b.StopTimer()
	// The machine is shared: wall times include waiting for a CPU, the
	// CPU time does not.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
}

func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ss := seed(b, n)
			s, w := ss.s, ss.w
			r := rand.New(rand.NewPCG(uint64(n), 1))
			b.Run("get", func(b *testing.B) {
				timed(b, func(int) func() error {
					id := w.id(r.IntN(n))
					return func() error { _, err := s.Discussion(ctx, id); return err }
				})
			})
			live := []service.DiscussionStatus{service.StatusProposed, service.StatusBooked, service.StatusInProgress}
			b.Run("list-status", func(b *testing.B) {
				// The live discussions by deadline, from the first page or
				// a cursor anywhere in the four years.
				timed(b, func(i int) func() error {
					f := service.DiscussionFilter{Status: live, Limit: 50}
					if i%2 == 1 {
						f.AfterDeadline, f.AfterID = w.discussion(r.IntN(n)).Deadline, "d"
					}
					return func() error {
						ds, err := s.Discussions(ctx, f)
						if err == nil && len(ds) == 0 && f.AfterID == "" {
							err = fmt.Errorf("no live discussions")
						}
						return err
					}
				})
			})
			b.Run("list-concluded", func(b *testing.B) {
				timed(b, func(i int) func() error {
					f := service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusConcluded}, Limit: 50,
						AfterDeadline: w.discussion(r.IntN(n)).Deadline, AfterID: "d"}
					return func() error { _, err := s.Discussions(ctx, f); return err }
				})
			})
			b.Run("list-visible-to", func(b *testing.B) {
				timed(b, func(int) func() error {
					f := service.DiscussionFilter{VisibleTo: w.people[r.IntN(len(w.people))].Email, Limit: 50}
					return func() error { _, err := s.Discussions(ctx, f); return err }
				})
			})
			b.Run("patch-reply", func(b *testing.B) {
				timed(b, func(int) func() error {
					p := ss.reply(r)
					return func() error { return s.PatchDiscussion(ctx, p) }
				})
			})
			b.Run("patch-head", func(b *testing.B) {
				timed(b, func(int) func() error {
					p := ss.head(r)
					return func() error { return s.PatchDiscussion(ctx, p) }
				})
			})
			b.Run("hold-4x4", func(b *testing.B) {
				timed(b, func(int) func() error {
					hs := ss.holds(r)
					return func() error { return s.HoldTime(ctx, hs) }
				})
			})
			b.Run("audit-10", func(b *testing.B) {
				timed(b, func(int) func() error {
					es := ss.audit()
					return func() error { return s.AppendAudit(ctx, es) }
				})
			})
		})
	}
}

// reply is a reply of a random invitee of a random discussion, made from
// what the store holds without reading it.
func (ss *seededStore) reply(r *rand.Rand) *service.DiscussionPatch {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	i := r.IntN(ss.w.n)
	d := ss.w.discussion(i)
	k := r.IntN(len(d.Invitees))
	rev := ss.revs[[2]int{i, k}]
	if rev == 0 {
		rev = 1
	}
	ss.revs[[2]int{i, k}] = rev + 1
	at := now.Add(time.Duration(rev) * time.Minute)
	inv := d.Invitees[k]
	inv.Reply, inv.RepliedAt, inv.Comment = policy.ReplyAccepted, &at, "See you there"
	return &service.DiscussionPatch{ID: d.ID, Version: ss.version(i), At: at,
		Invitees: []service.Element[service.Invitee]{{Index: k, Key: inv.Email, Rev: rev, Value: inv}},
		Events:   []service.Event{{At: at, Actor: service.Actor{Subject: inv.Email}, Kind: "reply", Detail: inv.Name + " accepted"}}}
}

func (ss *seededStore) version(i int) int64 {
	if v := ss.vers[i]; v > 0 {
		return v
	}
	return 1
}

// head marks a random discussion at risk (or not), as the deadline watch
// does.
func (ss *seededStore) head(r *rand.Rand) *service.DiscussionPatch {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	i := r.IntN(ss.w.n)
	h := ss.w.discussion(i)
	v := ss.version(i)
	ss.vers[i] = v + 1
	h.AtRisk = v%2 == 1
	return &service.DiscussionPatch{ID: h.ID, Version: v, Head: h, At: now,
		Events: []service.Event{{At: now, Actor: service.Actor{Subject: "deadline-watch"}, Kind: "at_risk"}}}
}

// holds is a booking of four people for an hour, at a time of its own.
func (ss *seededStore) holds(r *rand.Rand) []service.Hold {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.serial++
	start := now.Add(time.Duration(ss.serial) * time.Hour)
	booking := fmt.Sprintf("bench-%d", ss.serial)
	var hs []service.Hold
	for _, k := range r.Perm(len(ss.w.people))[:4] {
		p := ss.w.people[k].PersonID
		for q := range 4 {
			t := start.Add(time.Duration(q) * 15 * time.Minute)
			hs = append(hs, service.Hold{ID: p + "|" + t.Format("20060102T1504Z"), Person: p, DiscussionID: "d", BookingID: booking, Start: t, CreatedAt: now})
		}
	}
	return hs
}

// audit is a batch of ten entries of reads and changes.
func (ss *seededStore) audit() []service.AuditEntry {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var es []service.AuditEntry
	for range 10 {
		ss.serial++
		es = append(es, service.AuditEntry{ID: fmt.Sprintf("%016x", ss.serial), At: now, Actor: service.Actor{Subject: "u1", Name: "A User"},
			Action: "discussion.read", Resource: fmt.Sprintf("discussions/d%07d", ss.serial%ss.w.n), RequestID: fmt.Sprintf("req-%d", ss.serial),
			Detail: map[string]any{"case_reference": "CR-000123"}})
	}
	return es
}
