package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
)

// The service at realistic data sizes: a council's decade, or a national
// year, is about 100,000 discussions. Each size is seeded once into a data
// directory kept under the temporary directory (seeding 100,000 takes a
// minute or two; later runs reuse it), then the real server (run, on the
// embedded SQLite store) is measured over HTTP with real tokens: the
// figures include JSON, authentication, contract validation and auditing.
//
//	go test ./cmd/convene -run '^$' -bench Scale -benchtime 1000x -timeout 60m
//
// CONVENE_BENCH_PROCESS=1 runs the server as a process of its own (the
// built binary) rather than inside the benchmark's.
//
// Each operation reports its p99 beside the mean; the load benchmarks report
// requests a second and errors. BENCHMARKS.md has the figures.

// benchSizes are the sizes measured; CONVENE_BENCH_SIZES (comma-separated)
// picks others, e.g. 1000 for a quick look.
func benchSizes() []int {
	v := os.Getenv("CONVENE_BENCH_SIZES")
	if v == "" {
		return []int{1000, 10000, 100000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

const benchSecret = "scale-benchmark-secret-0123456789abcdef"

// benchPeople is the directory the seeded discussions invite from.
var benchPeople = []struct {
	name, email, agency, role string
	seniority                 int
	chair                     bool
}{
	{"Chris Chair", "chris.chair@council.example.org", "social_care", "team_manager", 3, true},
	{"Sam Social", "sam.social@council.example.org", "social_care", "social_worker", 1, false},
	{"Dana Police", "dana.police@police.example.org", "police", "detective", 3, false},
	{"Nina Nurse", "nina.nurse@nhs.example.org", "health", "safeguarding_nurse", 3, false},
	{"Priya Paed", "priya.paed@nhs.example.org", "health", "paediatrician", 4, false},
	{"Dee Lead", "dee.lead@school.example.org", "education", "designated_safeguarding_lead", 2, false},
	{"Lado Officer", "lado@council.example.org", "lado", "designated_officer", 1, false},
	{"Pat Probation", "pat@probation.example.org", "probation", "probation_officer", 2, false},
	{"Hana Housing", "hana@housing.example.org", "housing", "housing_officer", 2, false},
	{"Mia Midwife", "mia@nhs.example.org", "midwifery", "midwife", 2, false},
}

// seeded returns a data directory holding n discussions, seeding it on
// first use.
func seeded(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("convene-scale-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "seeded")); err == nil {
		return dir
	}
	_ = os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	var people []service.Person
	for _, p := range benchPeople {
		person := service.Person{ID: service.NewID(), Name: p.name, Email: p.email, Agency: service.Agency(p.agency), Role: p.role,
			Seniority: p.seniority, Chair: p.chair, Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
		person.Normalize()
		if err := store.CreatePerson(ctx, &person); err != nil {
			b.Fatal(err)
		}
		people = append(people, person)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	started := time.Now()
	for i := range n {
		d := benchDiscussion(rng, i, n, people, now)
		if err := store.CreateDiscussion(ctx, d); err != nil {
			b.Fatalf("seed %d: %v", i, err)
		}
	}
	b.Logf("seeded %d discussions in %s", n, time.Since(started).Round(time.Second))
	if err := os.WriteFile(filepath.Join(dir, "seeded"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// On disk before the server starts: otherwise the kernel writes the
	// copy back (1.5 GB at 100,000) while requests are timed, and a
	// commit that meets that writeback waited half a second.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// benchDiscussion is one realistic discussion: ten invitees, twenty
// timeline events, deadlines spread over ten years to a week ahead; most
// concluded with an outcome, a few open.
func benchDiscussion(rng *rand.Rand, i, n int, people []service.Person, now time.Time) *service.Discussion {
	id := service.NewID()
	age := time.Duration(float64(10*365*24*time.Hour) * float64(n-i) / float64(n))
	created := now.Add(-age)
	status := service.StatusConcluded
	switch r := rng.IntN(100); {
	case i >= n-n/50: // the newest: still open
		status = []service.DiscussionStatus{service.StatusProposed, service.StatusBooked, service.StatusBooked, service.StatusInProgress}[rng.IntN(4)]
		created = now.Add(-time.Duration(rng.IntN(48)) * time.Hour)
	case r < 2:
		status = service.StatusCancelled
	}
	d := &service.Discussion{
		ID: id, CaseReference: fmt.Sprintf("CR-%d-%05d", created.Year(), i), Status: status, UID: id + "@convene",
		Case:      policy.Case{TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAGAmber, Concerns: []policy.Concern{"other"}, ReferralReceivedAt: created}},
		Timescale: policy.Timescale{BindingRule: policy.RuleRef{ID: "G1", Citation: "002 §6, 003 §3"}},
		Deadline:  created.Add(72 * time.Hour), Duration: time.Hour,
		Attendance: policy.Attendance{Requirements: []policy.Requirement{
			{ID: "csc_chair", Name: "CSC manager as chair", Agencies: []policy.Agency{policy.AgencySocialCare}, Chair: true, Essential: true, MinSeniority: policy.Seniority{Level: 3, Label: "Team or practice manager"}},
			{ID: "csc_social_worker", Name: "CSC social worker", Agencies: []policy.Agency{policy.AgencySocialCare}, Essential: true, MinSeniority: policy.Seniority{Level: 1}},
			{ID: "police", Name: "police", Agencies: []policy.Agency{policy.AgencyPolice}, Essential: true, MinSeniority: policy.Seniority{Level: 2, Label: "Sergeant"}},
			{ID: "health", Name: "health", Agencies: []policy.Agency{policy.AgencyHealth}, Essential: true, MinSeniority: policy.Seniority{Level: 3}},
		}, KnowsChild: policy.KnowsChildRule{Required: true}},
		Agenda:    []string{"Share information", "Agree actions, owners and timescales"},
		CreatedBy: service.Actor{Subject: "bea", Name: "Bea Support"}, CreatedAt: created, UpdatedAt: created, Version: 1,
	}
	for j, p := range people {
		inv := service.Invitee{PersonID: p.ID, Name: p.Name, Email: p.Email, Agency: p.Agency, Role: p.Role, Seniority: p.Seniority,
			Chair: p.Chair, Essential: j < 4, Reply: policy.ReplyAccepted, AddedAt: created, KnowsChild: j == 1}
		if status == service.StatusProposed || status == service.StatusBooked {
			inv.Reply = policy.ReplyNeedsAction
		}
		d.Invitees = append(d.Invitees, inv)
	}
	if status != service.StatusProposed {
		start := created.Add(24 * time.Hour)
		if status == service.StatusBooked {
			start = now.Add(time.Duration(24+rng.IntN(48)) * time.Hour)
		}
		d.Booking = &service.Booking{ID: service.NewID(), Start: start, End: start.Add(time.Hour), BookedAt: created, Location: "MASH office"}
	}
	if status == service.StatusConcluded || status == service.StatusInProgress {
		d.Started = &service.Start{At: d.Booking.Start}
	}
	if status == service.StatusConcluded {
		d.Outcome = &service.Outcome{Outcome: policy.OutcomeS47Enquiry, Version: 1, RecordedAt: d.Booking.End,
			SignsOfSafety: service.SignsOfSafety{Concerns: "unexplained injury", WorkingWell: "school", NeedToKnow: "medical", NeedsToBeDone: "visit"},
			Decisions:     []service.Decision{{Decision: "s47 enquiry", Rationale: "threshold met"}}}
		d.FollowOns = []service.FollowOn{{FollowOn: policy.FollowOn{ID: "RECORD", Due: d.Booking.End.Add(24 * time.Hour)}, Done: true}}
	}
	for k := range 20 {
		d.Timeline = append(d.Timeline, service.Event{At: created.Add(time.Duration(k) * time.Minute), Actor: d.CreatedBy, Kind: "note", Detail: "event " + strconv.Itoa(k)})
	}
	return d
}

// The start-up work the measurements wait out: the deadline watch's and
// the retention worker's first passes, and the mail the watch queued.
var (
	lastRun          = regexp.MustCompile(`(?m)^convene_deadline_watch_last_run_timestamp_seconds (\S+)`)
	lastRetention    = regexp.MustCompile(`(?m)^convene_retention_last_run_timestamp_seconds (\S+)`)
	residentMemory   = regexp.MustCompile(`(?m)^process_resident_memory_bytes (\S+)`)
	outboxInProgress = regexp.MustCompile(`(?m)^convene_outbox_messages\{state="(?:queued|sending)"\} (\S+)`)
)

// quiet reports whether the metrics show the start-up work done: both
// first passes made and nothing queued or being sent.
func quiet(metrics []byte) bool {
	for _, re := range []*regexp.Regexp{lastRun, lastRetention} {
		if m := re.FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
			return false
		}
	}
	counts := outboxInProgress.FindAllSubmatch(metrics, -1)
	if len(counts) != 2 {
		return false
	}
	for _, m := range counts {
		if string(m[1]) != "0" {
			return false
		}
	}
	return true
}

// benchServer runs the real service on a seeded data directory.
type benchServer struct {
	*instance
	bso, chair, gateway string
	booked              []map[string]any // open booked discussions: id, uid, sequence
}

func startBench(b *testing.B, n int) *benchServer {
	b.Helper()
	// Each run works on a copy of the seeded database, so runs do not
	// inherit each other's discussions and mail.
	dir := b.TempDir()
	if err := copyFile(filepath.Join(seeded(b, n), "convene.db"), filepath.Join(dir, "convene.db")); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"CONVENE_DATA_DIR": dir, "CONVENE_DEMO": "off", "CONVENE_JWT_SECRET": benchSecret,
		"CONVENE_MAIL_AUTH_SERVIDS": "mx.bench.example", "CONVENE_WATCH_INTERVAL": "1h"}
	var s *benchServer
	if os.Getenv("CONVENE_BENCH_PROCESS") != "" {
		// The server in a process of its own, as deployed: the load
		// generator's goroutines and garbage collection are not the
		// server's.
		env["CONVENE_ADDR"], env["CONVENE_LOG_LEVEL"] = "127.0.0.1:0", "error"
		s = &benchServer{instance: &instance{url: spawn(b, buildBinary(b), env).url}}
	} else {
		s = &benchServer{instance: start(b, env)}
	}
	s.bso = mint(b, env, "business_support", "bea", "bea@council.example.org", "social_care")
	s.chair = mint(b, env, "chair", "chris", benchPeople[0].email, "social_care")
	s.gateway = mint(b, env, "mail_gateway", "mx", "", "")
	// The deadline watch makes its first pass at start (reminders for the
	// seeded discussions no one has answered), the retention worker its
	// first, and the outbox sends the reminders: measure the steady state
	// after them, not the start-up beside them.
	s.waitQuiet(b)
	code, page := call(b, "GET", s.url+"/v1/discussions?status=booked&limit=200", s.bso, nil)
	if code != 200 {
		b.Fatalf("list booked: %d %v", code, page)
	}
	for _, it := range page["items"].([]any) {
		s.booked = append(s.booked, it.(map[string]any))
	}
	if len(s.booked) == 0 {
		b.Fatal("no booked discussions seeded")
	}
	return s
}

// timed runs op b.N times and reports the 99th percentile beside the
// mean.
func timed(b *testing.B, op func(i int) error) {
	b.Helper()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(p99(durs), "p99-ms")
}

func p99(durs []time.Duration) float64 {
	if len(durs) == 0 {
		return 0
	}
	slices.Sort(durs)
	return float64(durs[(len(durs)*99)/100-boolToInt(len(durs)%100 == 0)].Microseconds()) / 1000
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// do sends one request and checks the status.
func do(client *http.Client, method, url, tok, ctype string, body []byte, want int) error {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return nil
}

// authenticatedReply is an Outlook reply as the council's gateway passes it
// on: with its DMARC verdict in Authentication-Results.
func authenticatedReply(uid, email, name, partstat, caseRef string, start time.Time) []byte {
	msg := outlookReply(uid, 0, email, name, partstat, start, start.Add(time.Hour), caseRef)
	domain := email[bytes.IndexByte([]byte(email), '@')+1:]
	return append([]byte("Authentication-Results: mx.bench.example; dmarc=pass header.from="+domain+"\r\n"), msg...)
}

// waitQuiet waits until the metrics show the start-up work done and the
// outbox empty: the loads are measured in a steady state, not beside the
// mail an earlier benchmark queued (the book benchmark's thousand
// bookings queue five thousand invitations).
func (s *benchServer) waitQuiet(b *testing.B) {
	b.Helper()
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(3 * time.Minute); ; <-poll.C {
		res, err := http.Get(s.url + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if quiet(body) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the background work (first watch and retention passes, the outbox) did not finish in 3 minutes:\n%s", body)
		}
	}
}

func BenchmarkScale(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := startBench(b, n)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			anyID := s.booked[0]["id"].(string)
			b.Run("list50-filtered", func(b *testing.B) {
				timed(b, func(int) error {
					return do(client, "GET", s.url+"/v1/discussions?status=booked,proposed,concluded&limit=50", s.bso, "", nil, 200)
				})
			})
			b.Run("get", func(b *testing.B) {
				timed(b, func(int) error { return do(client, "GET", s.url+"/v1/discussions/"+anyID, s.bso, "", nil, 200) })
			})
			b.Run("quorum", func(b *testing.B) {
				timed(b, func(int) error {
					return do(client, "GET", s.url+"/v1/discussions/"+anyID+"/quorum", s.chair, "", nil, 200)
				})
			})
			var proposed []string
			b.Run("convene", func(b *testing.B) {
				timed(b, func(i int) error {
					body, _ := json.Marshal(map[string]any{"case_reference": fmt.Sprintf("CR-9%d-%06d", n, i+len(proposed)), "rag": "amber",
						"concerns": []string{"other"}, "referral_received_at": time.Now().UTC().Format(time.RFC3339), "confirm_duplicate": true})
					req, _ := http.NewRequest("POST", s.url+"/v1/discussions", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+s.bso)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						return err
					}
					defer res.Body.Close()
					var d map[string]any
					_ = json.NewDecoder(res.Body).Decode(&d)
					if res.StatusCode != 201 {
						return fmt.Errorf("convene: %d %v", res.StatusCode, d)
					}
					proposed = append(proposed, d["id"].(string))
					return nil
				})
			})
			booked := 0 // proposed discussions used so far (b.Run calls the body more than once)
			b.Run("book", func(b *testing.B) {
				var emails []string
				for _, p := range benchPeople {
					emails = append(emails, p.email)
				}
				if len(proposed)-booked < b.N {
					b.Fatalf("%d proposed discussions left for %d bookings: run with -benchtime Nx", len(proposed)-booked, b.N)
				}
				// A block of hours of its own for each run, a year or more
				// ahead: the seeded data directory is kept between runs.
				base := time.Now().AddDate(1, 0, 0).Add(time.Duration(time.Now().Unix()/60%5000) * 400 * time.Hour).Truncate(time.Hour)
				timed(b, func(int) error {
					// Each booking at its own hour, so none collides.
					body, _ := json.Marshal(map[string]any{"start": base.Add(time.Duration(booked) * time.Hour).Format(time.RFC3339),
						"confirm_unknown": emails, "override_reason": "benchmark: beyond the deadline"})
					id := proposed[booked]
					booked++
					return do(client, "POST", s.url+"/v1/discussions/"+id+"/book", s.bso, "application/json", body, 200)
				})
			})
			// Booking after booking, as above, has the machine sending
			// the invitations of the last hundred bookings (ninety a
			// second, nine hundred messages) beside each one. Paced at
			// twenty a second, still far beyond any council's rate, each
			// booking meets only its predecessors' sending.
			pacedHours := 0 // hours booked so far (b.Run calls the body more than once)
			b.Run("book-20-per-s", func(b *testing.B) {
				var emails []string
				for _, p := range benchPeople {
					emails = append(emails, p.email)
				}
				ids := make([]string, b.N)
				for i := range ids {
					code, d := call(b, "POST", s.url+"/v1/discussions", s.bso, map[string]any{"case_reference": fmt.Sprintf("CR-7%d-%06d", n, i), "rag": "amber",
						"concerns": []string{"other"}, "referral_received_at": time.Now().UTC().Format(time.RFC3339), "confirm_duplicate": true})
					if code != 201 {
						b.Fatalf("convene: %d %v", code, d)
					}
					ids[i] = d["id"].(string)
				}
				s.waitQuiet(b)
				base := time.Now().AddDate(2, 0, 0).Add(time.Duration(time.Now().Unix()/60%5000) * 400 * time.Hour).Truncate(time.Hour)
				var next atomic.Int64
				first := pacedHours
				pacedHours += b.N
				openLoop(b, client, 20, func() error {
					i := int(next.Add(1)) - 1
					body, _ := json.Marshal(map[string]any{"start": base.Add(time.Duration(first+i) * time.Hour).Format(time.RFC3339),
						"confirm_unknown": emails, "override_reason": "benchmark: beyond the deadline"})
					return do(client, "POST", s.url+"/v1/discussions/"+ids[i]+"/book", s.bso, "application/json", body, 200)
				})
			})
			b.Run("reply", func(b *testing.B) {
				stats := []string{"ACCEPTED", "TENTATIVE", "DECLINED"}
				timed(b, func(i int) error {
					d := s.booked[i%len(s.booked)]
					p := benchPeople[1+i%(len(benchPeople)-1)]
					msg := authenticatedReply(d["id"].(string)+"@convene", p.email, p.name, stats[i%3], d["case_reference"].(string), time.Now())
					return do(client, "POST", s.url+"/v1/imip", s.gateway, "message/rfc822", msg, 200)
				})
			})
			b.Run("quorum-500rps", func(b *testing.B) {
				s.waitQuiet(b)
				openLoop(b, client, 500, func() error {
					return do(client, "GET", s.url+"/v1/discussions/"+anyID+"/quorum", s.chair, "", nil, 200)
				})
			})
			b.Run("mixed-20-clients", func(b *testing.B) {
				s.waitQuiet(b)
				mixed(b, s, client, 0)
			})
			b.Run("mixed-20-clients-300rps", func(b *testing.B) {
				s.waitQuiet(b)
				mixed(b, s, client, 300)
			})
		})
	}
}

// openLoop sends b.N requests at rate a second, each on its own schedule
// (so a slow answer does not slow the sender), and reports the p99 and the
// rate achieved.
func openLoop(b *testing.B, client *http.Client, rate int, op func() error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	durs := make([]time.Duration, 0, b.N)
	var errs atomic.Int64
	// The load is paced by a ticker: one request each tick, whatever the
	// answers take.
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	b.ResetTimer()
	begin := time.Now()
	for range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if err := op(); err != nil {
				if errs.Add(1) == 1 {
					b.Logf("first error: %v", err)
				}
			}
			mu.Lock()
			durs = append(durs, time.Since(t))
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	b.ReportMetric(p99(durs), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(errs.Load()), "errors")
}

// mixed is twenty clients at once, each sending a mix like a morning's
// use: lists and reads, quorum checks, replies coming in, and convenes.
//
// With rate 0 the clients send as fast as the answers come (the load
// saturates the machine: its throughput is the service's most). With a
// rate, request i is due at rate i a second from the start, sent by the
// first client free, and its time runs from when it was due, so that a
// stall counts for every request it held up.
func mixed(b *testing.B, s *benchServer, client *http.Client, rate int) {
	const clients = 20
	var next atomic.Int64
	var errs atomic.Int64
	var mu sync.Mutex
	durs := make([]time.Duration, 0, b.N)
	byKind := map[string][]time.Duration{}
	var wg sync.WaitGroup
	b.ResetTimer()
	begin := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				d := s.booked[(i+c)%len(s.booked)]
				id := d["id"].(string)
				t := time.Now()
				if rate > 0 {
					t = begin.Add(time.Duration(i) * time.Second / time.Duration(rate))
					time.Sleep(time.Until(t)) // the load's pacing
				}
				var err error
				var kind string
				switch i % 20 {
				case 0, 1, 2, 3, 4:
					kind = "list"
					err = do(client, "GET", s.url+"/v1/discussions?status=booked&limit=50", s.bso, "", nil, 200)
				case 5, 6, 7, 8, 9, 10:
					kind = "get"
					err = do(client, "GET", s.url+"/v1/discussions/"+id, s.bso, "", nil, 200)
				case 11, 12, 13, 14:
					kind = "quorum"
					err = do(client, "GET", s.url+"/v1/discussions/"+id+"/quorum", s.chair, "", nil, 200)
				case 15, 16, 17, 18:
					kind = "reply"
					p := benchPeople[1+i%(len(benchPeople)-1)]
					msg := authenticatedReply(id+"@convene", p.email, p.name, []string{"ACCEPTED", "TENTATIVE"}[i%2], d["case_reference"].(string), time.Now())
					err = do(client, "POST", s.url+"/v1/imip", s.gateway, "message/rfc822", msg, 200)
				default:
					kind = "convene"
					body, _ := json.Marshal(map[string]any{"case_reference": fmt.Sprintf("CR-8%d-%07d", len(s.booked), i), "rag": "amber",
						"concerns": []string{"other"}, "referral_received_at": time.Now().UTC().Format(time.RFC3339), "confirm_duplicate": true})
					err = do(client, "POST", s.url+"/v1/discussions", s.bso, "application/json", body, 201)
				}
				el := time.Since(t)
				if err != nil {
					errs.Add(1)
				}
				mu.Lock()
				durs = append(durs, el)
				byKind[kind] = append(byKind[kind], el)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(p99(durs), "p99-ms")
	// Which calls make the tail: each kind's own p99.
	for kind, ds := range byKind {
		b.ReportMetric(p99(ds), kind+"-p99-ms")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(errs.Load()), "errors")
	// The memory the process holds after the load (with the server in the
	// benchmark's process, the load generator's too).
	if res, err := http.Get(s.url + "/metrics"); err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if m := residentMemory.FindSubmatch(body); m != nil {
			if v, err := strconv.ParseFloat(string(m[1]), 64); err == nil {
				b.ReportMetric(v/(1<<20), "rss-MB")
			}
		}
	}
}
