package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // profiles name IANA zones; hosts may lack zoneinfo.

	"gopkg.in/yaml.v3"

	"github.com/convene/convene/calendar"
)

//go:embed profiles/default.yaml
var defaultProfileYAML []byte

// DefaultProfileID is the id of the embedded default profile, used when a
// request names none.
const DefaultProfileID = "default"

// Unit is how a rule counts its time limit.
type Unit string

// The units (see DOMAIN.md, "How the units are counted").
const (
	// UnitSameCalendarDay: by the end (23:59:59) of the trigger's calendar
	// day in the area's time zone.
	UnitSameCalendarDay Unit = "same_calendar_day"
	// UnitWorkingDays: by close of business on the Nth working day after
	// the day of the trigger (calendar.WorkingDays.AddWorkingDays).
	UnitWorkingDays Unit = "working_days"
	// UnitElapsedHours: N elapsed hours, so a clock change moves the local
	// wall-clock time of the deadline.
	UnitElapsedHours Unit = "elapsed_hours"
)

// Trigger names the timestamp a rule counts from.
type Trigger string

// The triggers.
const (
	TriggerReferralReceived     Trigger = "referral_received_at"
	TriggerConcernsIdentified   Trigger = "concerns_identified_at"
	TriggerEmergencyAction      Trigger = "emergency_action_at"
	TriggerInvestigationStarted Trigger = "investigation_started_at"
	TriggerDeferred             Trigger = "deferred_at"
	// TriggerContact is the contact with the front door, which the service
	// records as the referral's receipt (seed 001's "from the contact").
	TriggerContact Trigger = "contact"
	// TriggerHeld is when the discussion was held, for follow-on rules.
	TriggerHeld Trigger = "held_at"
)

var clockTriggers = []Trigger{TriggerReferralReceived, TriggerConcernsIdentified, TriggerEmergencyAction, TriggerInvestigationStarted, TriggerDeferred, TriggerContact}

// The YAML document. Field names are the profile's schema; decoding is
// strict, so an unknown (misspelt) field is refused.
type profileDoc struct {
	ID              string               `yaml:"id"`
	Name            string               `yaml:"name"`
	Version         int                  `yaml:"version"`
	Region          string               `yaml:"region"`
	TimeZone        string               `yaml:"time_zone"`
	CloseOfBusiness string               `yaml:"close_of_business"`
	Clock           []clockRuleDoc       `yaml:"clock"`
	Decision        []decisionDoc        `yaml:"decision"`
	FollowOn        []followOnDoc        `yaml:"follow_on"`
	Agencies        map[string]agencyDoc `yaml:"agencies"`
	Attendance      []requirementDoc     `yaml:"attendance"`
	KnowsChild      knowsChildDoc        `yaml:"knows_child"`
	UrgentMinimum   urgentDoc            `yaml:"urgent_minimum"`
	Invitations     *invitationsDoc      `yaml:"invitations"`
	Format          formatDoc            `yaml:"format"`
	// RecordChase is how long after the record is circulated the
	// agencies that have not signed up are chased (issue 14; default 1
	// working day, after 001's "minutes within 24 hours").
	RecordChase *timeLimitDoc `yaml:"record_chase"`
	// Retention is how long the area's discussions and the audit log are
	// kept (issue 16; see retention.go).
	Retention *retentionDoc `yaml:"retention"`
}

type timeLimitDoc struct {
	Unit   string `yaml:"unit"`
	Within int    `yaml:"within"`
	From   string `yaml:"from"`
}

type clockRuleDoc struct {
	ID           string     `yaml:"id"`
	Summary      string     `yaml:"summary"`
	When         *Condition `yaml:"when"`
	General      bool       `yaml:"general"`
	timeLimitDoc `yaml:",inline"`
	Citation     string `yaml:"citation"`
}

type decisionDoc struct {
	ID           string `yaml:"id"`
	Summary      string `yaml:"summary"`
	RAG          string `yaml:"rag"`
	timeLimitDoc `yaml:",inline"`
	Citation     string `yaml:"citation"`
}

type followOnDoc struct {
	ID           string     `yaml:"id"`
	Summary      string     `yaml:"summary"`
	Outcomes     []string   `yaml:"outcomes"`
	When         *Condition `yaml:"when"`
	timeLimitDoc `yaml:",inline"`
	Citation     string `yaml:"citation"`
}

type agencyDoc struct {
	Label     string     `yaml:"label"`
	Roles     []string   `yaml:"roles"`
	Seniority []levelDoc `yaml:"seniority"`
}

type levelDoc struct {
	Key   string `yaml:"key"`
	Label string `yaml:"label"`
}

// levelRef is a seniority given by its key on the agency's scale or by its
// level number.
type levelRef struct {
	key   string
	level int
	set   bool
}

func (l *levelRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: min_seniority: want a level name or number", n.Line)
	}
	l.set = true
	if n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: min_seniority: %v", n.Line, err)
		}
		l.level = v
		return nil
	}
	l.key = n.Value
	return nil
}

type requirementDoc struct {
	ID           string     `yaml:"id"`
	Name         string     `yaml:"name"`
	When         *Condition `yaml:"when"`
	Agencies     []string   `yaml:"agencies"`
	AgencyFrom   string     `yaml:"agency_from"`
	AnyAgency    bool       `yaml:"any_agency"`
	Roles        []string   `yaml:"roles"`
	MinSeniority levelRef   `yaml:"min_seniority"`
	Essential    *bool      `yaml:"essential"`
	Chair        bool       `yaml:"chair"`
	Shared       bool       `yaml:"shared"`
	DetailFrom   string     `yaml:"detail_from"`
	Reason       string     `yaml:"reason"`
	Citation     string     `yaml:"citation"`
}

type knowsChildDoc struct {
	Required bool   `yaml:"required"`
	Reason   string `yaml:"reason"`
	Citation string `yaml:"citation"`
}

// invitationsDoc is what invitations may carry: they travel through
// ordinary mail and calendars, so their content is allow-listed.
type invitationsDoc struct {
	CaseReference struct {
		// PrefixLetters is the longest run of letters allowed, and only
		// as a prefix; MinDigits the fewest digits a reference has.
		PrefixLetters int `yaml:"prefix_letters"`
		MinDigits     int `yaml:"min_digits"`
	} `yaml:"case_reference"`
	// Agenda is the headings an invitation may carry.
	Agenda []string `yaml:"agenda"`
}

type urgentDoc struct {
	EssentialAgencies []string `yaml:"essential_agencies"`
	Summary           string   `yaml:"summary"`
	Citation          string   `yaml:"citation"`
	// AllowedRAG and AllowedRules say when the exceptional minimum may be
	// invoked: a RAG rating among AllowedRAG, or a binding rule among
	// AllowedRules.
	AllowedRAG   []string `yaml:"allowed_rag"`
	AllowedRules []string `yaml:"allowed_rules"`
}

type formatRuleDoc struct {
	ID       string     `yaml:"id"`
	Summary  string     `yaml:"summary"`
	When     *Condition `yaml:"when"`
	Citation string     `yaml:"citation"`
}

type separateDoc struct {
	ID          string     `yaml:"id"`
	When        *Condition `yaml:"when"`
	Discussions []string   `yaml:"discussions"`
	Reason      string     `yaml:"reason"`
	Citation    string     `yaml:"citation"`
}

type formatDoc struct {
	Default             formatRuleDoc   `yaml:"default"`
	Meeting             []formatRuleDoc `yaml:"meeting"`
	SeparateDiscussions []separateDoc   `yaml:"separate_discussions"`
	Notes               []formatRuleDoc `yaml:"notes"`
}

// Profile is a validated procedure profile: the rules of one area, as data.
// It is immutable and safe for concurrent use.
type Profile struct {
	source   string
	id, name string
	version  int
	region   calendar.Region
	loc      *time.Location
	cob      time.Duration
	cal      *calendar.WorkingDays

	clock    []clockRule
	decision []decisionRule
	followOn []followOnRule
	// followOnPreview is followOn as Timescale reports it, built once.
	followOnPreview []FollowOnRule
	agencies        [len(agencyNames)]agencyScale
	attendance      []requirementRule
	knowsChild      KnowsChildRule
	urgent          urgentRule
	format          formatRules
	invitations     invitationsDoc
	recordChase     timeLimit
	retention       Retention
}

// agencyNames is Agencies as an array length for the tables.
var agencyNames = [...]Agency{
	AgencySocialCare, AgencyPolice, AgencyHealth, AgencyEducation, AgencyProbation,
	AgencyHousing, AgencyLegal, AgencyLADO, AgencyMidwifery, AgencyFostering,
	AgencyResidential, AgencyInterpreting, AgencyOther,
}

type timeLimit struct {
	unit   Unit
	within int
	from   Trigger
	period string // in words, computed once
}

type clockRule struct {
	id, summary, citation string
	when                  condition
	general               bool
	timeLimit
}

type decisionRule struct {
	id, summary, citation string
	rag                   RAG
	timeLimit
}

type followOnRule struct {
	id, summary, citation string
	outcomes              []Outcome // empty: every outcome
	when                  condition
	timeLimit
}

type agencyScale struct {
	label  string
	roles  []string
	levels []SeniorityLevel
}

type requirementRule struct {
	id, name          string
	when              condition
	agencies          []Agency
	agencyFromReferer bool
	anyAgency         bool
	roles             []string
	minLevel          int
	essential         bool
	chair, shared     bool
	detailFrom        string
	reason, citation  string
}

type urgentRule struct {
	essentialAgencies []Agency
	summary, citation string
	allowedRAG        []RAG
	allowedRules      []string
}

type formatRule struct {
	FormatRule
	when condition
}

type separateRule struct {
	id          string
	when        condition
	discussions []string
	reason      string
	citation    string
}

type formatRules struct {
	def      FormatRule
	meeting  []formatRule
	separate []separateRule
	notes    []formatRule
}

// SeniorityLevel is one step on an agency's ordered seniority scale. Level 1
// is the most junior.
type SeniorityLevel struct {
	Level int    `json:"level"`
	Key   string `json:"key"`
	Label string `json:"label"`
}

// ID returns the profile's id, by which requests name it.
func (p *Profile) ID() string { return p.id }

// Name returns the profile's human-readable name.
func (p *Profile) Name() string { return p.name }

// Version returns the profile's revision number.
func (p *Profile) Version() int { return p.version }

// Region returns the profile's default bank-holiday region.
func (p *Profile) Region() calendar.Region { return p.region }

// Location returns the area's time zone.
func (p *Profile) Location() *time.Location { return p.loc }

// CloseOfBusiness returns the wall-clock time working-day deadlines fall
// at, as an offset from midnight.
func (p *Profile) CloseOfBusiness() time.Duration { return p.cob }

// Seniority returns an agency's seniority scale, most junior first, or nil
// for an unknown agency.
func (p *Profile) Seniority(a Agency) []SeniorityLevel {
	if i := a.index(); i >= 0 {
		return slices.Clone(p.agencies[i].levels)
	}
	return nil
}

// SeniorityLabel returns the label of a level on an agency's scale, such as
// "Sergeant" for police level 2, or "level N" if the scale has no such
// level.
func (p *Profile) SeniorityLabel(a Agency, level int) string {
	if i := a.index(); i >= 0 && level >= 1 && level <= len(p.agencies[i].levels) {
		return p.agencies[i].levels[level-1].Label
	}
	return "level " + strconv.Itoa(level)
}

// SeniorityLevelOf returns the level of a key on an agency's scale, such as
// 3 for police "inspector".
func (p *Profile) SeniorityLevelOf(a Agency, key string) (int, bool) {
	if i := a.index(); i >= 0 {
		for _, l := range p.agencies[i].levels {
			if l.Key == key {
				return l.Level, true
			}
		}
	}
	return 0, false
}

// Roles returns the role names a profile knows for an agency, which
// requirements may ask for and the directory should use.
func (p *Profile) Roles(a Agency) []string {
	if i := a.index(); i >= 0 {
		return slices.Clone(p.agencies[i].roles)
	}
	return nil
}

// AgencyLabel returns an agency's display name, such as "Police".
func (p *Profile) AgencyLabel(a Agency) string {
	if i := a.index(); i >= 0 {
		return p.agencies[i].label
	}
	return string(a)
}

// WithCalendar returns a copy of the profile that counts working days with
// cal, for instance after the bank-holiday data has been refreshed.
func (p *Profile) WithCalendar(cal *calendar.WorkingDays) *Profile {
	c := *p
	c.cal = cal.In(p.loc)
	return &c
}

// DefaultProfile parses the embedded default profile, with the working-day
// calendar cal (nil: the embedded bank-holiday snapshot and rules).
func DefaultProfile(cal *calendar.WorkingDays) (*Profile, error) {
	return ParseProfile(defaultProfileYAML, "embedded default", cal)
}

// DefaultProfileYAML returns the embedded default profile's text, a starting
// point for an area's own.
func DefaultProfileYAML() []byte { return slices.Clone(defaultProfileYAML) }

// LoadProfileFile reads and validates a profile file.
func LoadProfileFile(path string, cal *calendar.WorkingDays) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseProfile(data, path, cal)
}

// CheckFile validates a profile file, for `convene profile check FILE`. The
// error lists every problem, each naming the rule and field.
func CheckFile(path string) error {
	_, err := LoadProfileFile(path, nil)
	return err
}

// ParseProfile parses and validates a profile document. source names it in
// errors. Deadlines count working days with cal, or, if cal is nil, with a
// calendar built from the embedded bank-holiday snapshot and rules. The
// error is a *ProfileError listing every problem found.
func ParseProfile(data []byte, source string, cal *calendar.WorkingDays) (*Profile, error) {
	var doc profileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ProfileError{Source: source, Problems: []string{"empty document"}}
		}
		return nil, &ProfileError{Source: source, Problems: yamlProblems(data, err)}
	}
	if cal == nil {
		var err error
		if cal, err = calendar.NewWorkingDays(calendar.WorkingDaysOptions{}); err != nil {
			return nil, err
		}
	}
	p, problems := compileProfile(&doc, cal)
	if len(problems) > 0 {
		return nil, &ProfileError{Source: source, Problems: problems}
	}
	p.source = source
	return p, nil
}

var yamlLineError = regexp.MustCompile(`^line (\d+): (.*)$`)
var yamlUnknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlProblems turns a decoding error into problems that say which rule (or
// section) the bad line belongs to.
func yamlProblems(data []byte, err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{err.Error()}
	}
	ctx := lineContexts(data)
	var out []string
	for _, e := range te.Errors {
		m := yamlLineError.FindStringSubmatch(e)
		if m == nil {
			out = append(out, e)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		msg := m[2]
		if f := yamlUnknownField.FindStringSubmatch(msg); f != nil {
			msg = fmt.Sprintf("unknown field %q", f[1])
		}
		msg = strings.ReplaceAll(msg, "policy.", "")
		out = append(out, fmt.Sprintf("%s%s (line %d)", contextAt(ctx, line), msg, line))
	}
	return out
}

// defaultInvitations is what a profile without an invitations section
// allows: references of up to four letters then at least four digits, and
// the purposes of a strategy discussion as headings (000 §6, 001, 002 §1).
func defaultInvitations() invitationsDoc {
	var d invitationsDoc
	d.CaseReference.PrefixLetters, d.CaseReference.MinDigits = 4, 4
	d.Agenda = []string{
		"Share information",
		"Decide whether a section 47 enquiry is needed, and plan it",
		"Agree the conduct and timing of any criminal investigation",
		"Agree immediate safeguarding actions and interim support",
		"Agree what is shared with the family, and when",
		"Agree actions, owners and timescales",
	}
	return d
}

// Agenda is the headings an invitation may carry, in the profile's order.
func (p *Profile) Agenda() []string { return slices.Clone(p.invitations.Agenda) }

// CheckCaseReference says whether a case reference may travel in
// invitations: it must carry digits and cannot be a person's name (at
// least MinDigits digits; letters only as a prefix of at most
// PrefixLetters). The error names the field and says why.
func (p *Profile) CheckCaseReference(ref string) error {
	rule := p.invitations.CaseReference
	letters, digits, i := 0, 0, 0
	for i < len(ref) && isLetter(ref[i]) {
		letters++
		i++
	}
	for ; i < len(ref); i++ {
		switch c := ref[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' || c == '/' || c == '.' || c == '_':
		default:
			return invalid([]FieldError{{Field: "case_reference", Message: fmt.Sprintf(
				"a case reference is digits, with at most %d letters as a prefix (such as CR-2026-0042): never a name, since it travels in invitations", rule.PrefixLetters)}})
		}
	}
	if letters > rule.PrefixLetters || digits < rule.MinDigits || len(ref) > 40 {
		return invalid([]FieldError{{Field: "case_reference", Message: fmt.Sprintf(
			"a case reference has at least %d digits and at most %d letters as a prefix (such as CR-2026-0042): never a name, since it travels in invitations", rule.MinDigits, rule.PrefixLetters)}})
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// profileSections are the top-level keys of a profile document.
var profileSections = []string{"id", "name", "version", "region", "time_zone", "close_of_business", "clock", "decision", "follow_on", "agencies", "attendance", "knows_child", "urgent_minimum", "format", "invitations"}

type lineContext struct {
	line  int
	label string
}

// lineContexts lists where each section and each rule of the document
// starts, from a lenient parse, so that a strict decoding error on a line
// can be put in its rule's terms.
func lineContexts(data []byte) []lineContext {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	var out []lineContext
	items := func(seq *yaml.Node, kind string) {
		if seq.Kind != yaml.SequenceNode {
			return
		}
		for i, it := range seq.Content {
			label := fmt.Sprintf("%s %d: ", kind, i+1)
			if it.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(it.Content); j += 2 {
					if it.Content[j].Value == "id" {
						label = fmt.Sprintf("%s %q: ", kind, it.Content[j+1].Value)
					}
				}
			}
			out = append(out, lineContext{it.Line, label})
		}
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		label := key.Value + ": "
		if !slices.Contains(profileSections, key.Value) {
			label = "" // the unknown key is the problem itself
		}
		out = append(out, lineContext{key.Line, label})
		switch key.Value {
		case "clock":
			items(val, "rule")
		case "decision":
			items(val, "decision")
		case "follow_on":
			items(val, "follow-on")
		case "attendance":
			items(val, "requirement")
		case "agencies":
			if val.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(val.Content); j += 2 {
					out = append(out, lineContext{val.Content[j].Line, fmt.Sprintf("agency %q: ", val.Content[j].Value)})
				}
			}
		case "format":
			if val.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(val.Content); j += 2 {
					k, v := val.Content[j], val.Content[j+1]
					out = append(out, lineContext{k.Line, "format." + k.Value + ": "})
					switch k.Value {
					case "meeting":
						items(v, "format rule")
					case "separate_discussions":
						items(v, "separate discussion")
					case "notes":
						items(v, "note")
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

func contextAt(ctx []lineContext, line int) string {
	label := ""
	for _, c := range ctx {
		if c.line > line {
			break
		}
		label = c.label
	}
	return label
}

var profileIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// compileProfile validates the document and builds the Profile, collecting
// every problem rather than stopping at the first.
func compileProfile(doc *profileDoc, cal *calendar.WorkingDays) (*Profile, []string) {
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := &Profile{id: doc.ID, name: doc.Name, version: doc.Version}

	if !profileIDPattern.MatchString(doc.ID) {
		problem("id: %q: want lower-case letters, digits, '.', '_' or '-'", doc.ID)
	}
	if strings.TrimSpace(doc.Name) == "" {
		problem("name: required")
	}
	if doc.Version < 1 {
		problem("version: required, a whole number from 1")
	}
	if r, err := calendar.ParseRegion(doc.Region); err != nil {
		problem("region: %v", err)
	} else {
		p.region = r
	}
	if doc.TimeZone == "" {
		problem("time_zone: required (an IANA zone such as Europe/London)")
	} else if loc, err := time.LoadLocation(doc.TimeZone); err != nil {
		problem("time_zone: unknown time zone %q", doc.TimeZone)
	} else {
		p.loc = loc
		p.cal = cal.In(loc)
	}
	if m := clockPattern.FindStringSubmatch(doc.CloseOfBusiness); m == nil {
		problem("close_of_business: %q: want HH:MM, such as 17:00", doc.CloseOfBusiness)
	} else {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		p.cob = time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute
	}

	compileLimit := func(ctx string, d timeLimitDoc, triggers []Trigger) timeLimit {
		l := timeLimit{unit: Unit(d.Unit), within: d.Within, from: Trigger(d.From), period: period(Unit(d.Unit), d.Within)}
		switch l.unit {
		case UnitSameCalendarDay:
			if d.Within != 0 {
				problem("%swithin: not used with unit same_calendar_day", ctx)
			}
		case UnitWorkingDays, UnitElapsedHours:
			if d.Within < 1 {
				problem("%swithin: required with unit %s, a whole number from 1", ctx, d.Unit)
			}
		case "":
			problem("%sunit: required (same_calendar_day, working_days or elapsed_hours)", ctx)
		default:
			problem("%sunit: unknown unit %q (want same_calendar_day, working_days or elapsed_hours)", ctx, d.Unit)
		}
		if !slices.Contains(triggers, l.from) {
			names := make([]string, len(triggers))
			for i, t := range triggers {
				names[i] = string(t)
			}
			if d.From == "" {
				problem("%sfrom: required (%s)", ctx, strings.Join(names, ", "))
			} else {
				problem("%sfrom: unknown trigger %q (want %s)", ctx, d.From, strings.Join(names, ", "))
			}
		}
		return l
	}
	requireText := func(ctx, field, v string) {
		if strings.TrimSpace(v) == "" {
			problem("%s%s: required", ctx, field)
		}
	}
	ids := map[string]map[string]bool{}
	checkID := func(section, ctx, id string) {
		if ids[section] == nil {
			ids[section] = map[string]bool{}
		}
		if strings.TrimSpace(id) == "" {
			problem("%sid: required", ctx)
		} else if ids[section][id] {
			problem("%sid: duplicate id %q", ctx, id)
		}
		ids[section][id] = true
	}
	label := func(kind string, i int, id string) string {
		if id == "" {
			return fmt.Sprintf("%s %d: ", kind, i+1)
		}
		return fmt.Sprintf("%s %q: ", kind, id)
	}

	// The clock.
	if len(doc.Clock) == 0 {
		problem("clock: at least one rule required")
	}
	unconditionalGeneral := false
	for i, d := range doc.Clock {
		ctx := label("rule", i, d.ID)
		checkID("clock", ctx, d.ID)
		requireText(ctx, "summary", d.Summary)
		requireText(ctx, "citation", d.Citation)
		r := clockRule{id: d.ID, summary: d.Summary, citation: d.Citation, general: d.General}
		r.timeLimit = compileLimit(ctx, d.timeLimitDoc, clockTriggers)
		r.when = d.When.compile(ctx+"when", problem)
		r.when.checkOnly(clockFacts, ctx+"when", "clock rules (a timescale request does not carry it)", problem)
		if d.General && d.When == nil {
			unconditionalGeneral = true
		}
		if d.General && (r.from == TriggerEmergencyAction || r.from == TriggerInvestigationStarted || r.from == TriggerDeferred) {
			problem("%sfrom: a general rule must count from a time every request has (referral_received_at, concerns_identified_at or contact), not %s", ctx, r.from)
		}
		p.clock = append(p.clock, r)
	}
	if len(doc.Clock) > 0 && !unconditionalGeneral {
		problem("clock: no general rule without conditions (general: true, no when), so some requests would have no deadline")
	}

	// RAG decision windows.
	seenRAG := map[RAG]bool{}
	for i, d := range doc.Decision {
		ctx := label("decision", i, d.ID)
		checkID("decision", ctx, d.ID)
		requireText(ctx, "summary", d.Summary)
		requireText(ctx, "citation", d.Citation)
		r := decisionRule{id: d.ID, summary: d.Summary, citation: d.Citation, rag: RAG(d.RAG)}
		if !slices.Contains(rags, r.rag) {
			problem("%srag: unknown RAG rating %q (want red, amber or green)", ctx, d.RAG)
		} else if seenRAG[r.rag] {
			problem("%srag: a second window for %s", ctx, d.RAG)
		}
		seenRAG[r.rag] = true
		r.timeLimit = compileLimit(ctx, d.timeLimitDoc, clockTriggers)
		if r.from != TriggerContact && r.from != TriggerReferralReceived {
			problem("%sfrom: a decision window counts from the contact (contact or referral_received_at)", ctx)
		}
		p.decision = append(p.decision, r)
	}

	// Follow-on deadlines.
	for i, d := range doc.FollowOn {
		ctx := label("follow-on", i, d.ID)
		checkID("follow_on", ctx, d.ID)
		requireText(ctx, "summary", d.Summary)
		requireText(ctx, "citation", d.Citation)
		if d.From == "" {
			d.From = string(TriggerHeld)
		}
		r := followOnRule{id: d.ID, summary: d.Summary, citation: d.Citation}
		r.timeLimit = compileLimit(ctx, d.timeLimitDoc, []Trigger{TriggerHeld})
		for j, o := range d.Outcomes {
			if !slices.Contains(Outcomes, Outcome(o)) {
				problem("%soutcomes[%d]: unknown outcome %q", ctx, j, o)
			}
			r.outcomes = append(r.outcomes, Outcome(o))
		}
		r.when = d.When.compile(ctx+"when", problem)
		p.followOn = append(p.followOn, r)
	}

	p.followOnPreview = p.buildFollowOnPreview()

	// When non-signers of a circulated record are chased.
	p.recordChase = timeLimit{unit: UnitWorkingDays, within: 1, from: TriggerHeld, period: period(UnitWorkingDays, 1)}
	if rc := doc.RecordChase; rc != nil {
		d := *rc
		if d.From == "" {
			d.From = string(TriggerHeld)
		}
		p.recordChase = compileLimit("record_chase: ", d, []Trigger{TriggerHeld})
	}

	p.retention = compileRetention(doc.Retention, problem)

	// Agencies and their seniority scales.
	for key := range doc.Agencies {
		if Agency(key).index() < 0 {
			problem("agencies: unknown agency %q", key)
		}
	}
	for i, a := range agencyNames {
		d, ok := doc.Agencies[string(a)]
		ctx := fmt.Sprintf("agency %q: ", a)
		if !ok {
			problem("agencies: %q missing: every agency needs a seniority scale", a)
			continue
		}
		requireText(ctx, "label", d.Label)
		sc := agencyScale{label: d.Label, roles: d.Roles}
		if len(d.Seniority) == 0 {
			problem("%sseniority: at least one level required", ctx)
		}
		keys := map[string]bool{}
		for j, l := range d.Seniority {
			if l.Key == "" || l.Label == "" {
				problem("%sseniority[%d]: key and label required", ctx, j)
			}
			if keys[l.Key] {
				problem("%sseniority[%d]: duplicate key %q", ctx, j, l.Key)
			}
			keys[l.Key] = true
			sc.levels = append(sc.levels, SeniorityLevel{Level: j + 1, Key: l.Key, Label: l.Label})
		}
		for j, r := range d.Roles {
			if strings.TrimSpace(r) == "" {
				problem("%sroles[%d]: empty", ctx, j)
			}
		}
		p.agencies[i] = sc
	}

	// Who must take part.
	detailFields := []string{"child.school_or_nursery", "interpreter_language", "specialist_expertise"}
	for i, d := range doc.Attendance {
		ctx := label("requirement", i, d.ID)
		checkID("attendance", ctx, d.ID)
		requireText(ctx, "name", d.Name)
		requireText(ctx, "reason", d.Reason)
		requireText(ctx, "citation", d.Citation)
		r := requirementRule{id: d.ID, name: d.Name, roles: d.Roles, chair: d.Chair, shared: d.Shared, detailFrom: d.DetailFrom, reason: d.Reason, citation: d.Citation, anyAgency: d.AnyAgency}
		ways := 0
		if len(d.Agencies) > 0 {
			ways++
		}
		if d.AgencyFrom != "" {
			ways++
			if d.AgencyFrom != "referring_agency" {
				problem("%sagency_from: unknown field %q (want referring_agency)", ctx, d.AgencyFrom)
			}
			r.agencyFromReferer = true
		}
		if d.AnyAgency {
			ways++
		}
		if ways != 1 {
			problem("%sagencies: give exactly one of agencies, agency_from or any_agency", ctx)
		}
		for j, a := range d.Agencies {
			if Agency(a).index() < 0 {
				problem("%sagencies[%d]: unknown agency %q", ctx, j, a)
				continue
			}
			r.agencies = append(r.agencies, Agency(a))
		}
		// Roles must be known to one of the agencies the requirement takes.
		candidates := r.agencies
		if len(candidates) == 0 {
			candidates = agencyNames[:]
		}
		for j, role := range d.Roles {
			known := false
			for _, a := range candidates {
				if slices.Contains(doc.Agencies[string(a)].Roles, role) {
					known = true
				}
			}
			if !known {
				problem("%sroles[%d]: unknown role %q for %s", ctx, j, role, joinAgencies(candidates))
			}
		}
		switch {
		case !d.MinSeniority.set:
			problem("%smin_seniority: required (a level name on the agency's scale, or 1 for any level)", ctx)
		case d.MinSeniority.key != "":
			if len(r.agencies) != 1 {
				problem("%smin_seniority: a level name needs exactly one agency; give a level number", ctx)
				break
			}
			for j, l := range doc.Agencies[string(r.agencies[0])].Seniority {
				if l.Key == d.MinSeniority.key {
					r.minLevel = j + 1
				}
			}
			if r.minLevel == 0 {
				problem("%smin_seniority: unknown level %q for agency %s", ctx, d.MinSeniority.key, r.agencies[0])
			}
		default:
			r.minLevel = d.MinSeniority.level
			if r.minLevel < 1 {
				problem("%smin_seniority: level %d: want 1 or more", ctx, r.minLevel)
			}
			for _, a := range candidates {
				if n := len(doc.Agencies[string(a)].Seniority); n > 0 && r.minLevel > n && len(r.agencies) > 0 {
					problem("%smin_seniority: level %d is above the top of the %s scale (%d)", ctx, r.minLevel, a, n)
				}
			}
		}
		if d.Essential == nil {
			problem("%sessential: required (true: needed for quorum; false: advisory)", ctx)
		} else {
			r.essential = *d.Essential
		}
		if d.DetailFrom != "" && !slices.Contains(detailFields, d.DetailFrom) {
			problem("%sdetail_from: unknown field %q (want %s)", ctx, d.DetailFrom, strings.Join(detailFields, ", "))
		}
		if d.Chair && d.Shared {
			problem("%sshared: a chair requirement cannot be shared: the chair fills only the chair's seat", ctx)
		}
		r.when = d.When.compile(ctx+"when", problem)
		r.when.checkOnly(^bit(factHarmSubstantiated), ctx+"when", "attendance rules (it is known only after the discussion)", problem)
		p.attendance = append(p.attendance, r)
	}
	if len(doc.Attendance) == 0 {
		problem("attendance: at least one requirement required")
	}
	if !slices.ContainsFunc(p.attendance, func(r requirementRule) bool { return r.chair }) && len(doc.Attendance) > 0 {
		problem("attendance: no chair requirement (chair: true); a strategy discussion is chaired by a CSC manager")
	}
	p.knowsChild = KnowsChildRule{Required: doc.KnowsChild.Required, Reason: doc.KnowsChild.Reason, Citation: doc.KnowsChild.Citation}
	if doc.KnowsChild.Required {
		requireText("knows_child.", "reason", doc.KnowsChild.Reason)
		requireText("knows_child.", "citation", doc.KnowsChild.Citation)
	}
	requireText("urgent_minimum.", "summary", doc.UrgentMinimum.Summary)
	requireText("urgent_minimum.", "citation", doc.UrgentMinimum.Citation)
	if len(doc.UrgentMinimum.EssentialAgencies) == 0 {
		problem("urgent_minimum.essential_agencies: at least one agency required")
	}
	p.urgent = urgentRule{summary: doc.UrgentMinimum.Summary, citation: doc.UrgentMinimum.Citation, allowedRules: doc.UrgentMinimum.AllowedRules}
	if len(doc.UrgentMinimum.AllowedRAG) == 0 && len(doc.UrgentMinimum.AllowedRules) == 0 {
		problem("urgent_minimum: allowed_rag or allowed_rules required: the minimum is for exceptional, urgent discussions only (003 §2)")
	}
	for j, r := range doc.UrgentMinimum.AllowedRAG {
		if !slices.Contains(rags, RAG(r)) {
			problem("urgent_minimum.allowed_rag[%d]: unknown RAG rating %q", j, r)
		}
		p.urgent.allowedRAG = append(p.urgent.allowedRAG, RAG(r))
	}
	for j, a := range doc.UrgentMinimum.EssentialAgencies {
		if Agency(a).index() < 0 {
			problem("urgent_minimum.essential_agencies[%d]: unknown agency %q", j, a)
		}
		p.urgent.essentialAgencies = append(p.urgent.essentialAgencies, Agency(a))
	}

	// What invitations may carry.
	p.invitations = defaultInvitations()
	if inv := doc.Invitations; inv != nil {
		if inv.CaseReference.PrefixLetters < 0 || inv.CaseReference.PrefixLetters > 10 {
			problem("invitations.case_reference.prefix_letters: must be 0 to 10")
		}
		if inv.CaseReference.MinDigits < 4 {
			problem("invitations.case_reference.min_digits: at least 4, so that a reference cannot be a name")
		}
		for j, h := range inv.Agenda {
			if strings.TrimSpace(h) == "" || len(h) > 200 {
				problem("invitations.agenda[%d]: a heading of 1 to 200 characters", j)
			}
		}
		if len(inv.Agenda) == 0 {
			problem("invitations.agenda: at least one heading")
		}
		p.invitations = *inv
	}

	// Meeting or phone call.
	f := doc.Format
	requireText("format.default.", "id", f.Default.ID)
	requireText("format.default.", "summary", f.Default.Summary)
	requireText("format.default.", "citation", f.Default.Citation)
	if f.Default.When != nil {
		problem("format.default.when: the default applies when no meeting rule does; it takes no condition")
	}
	p.format.def = FormatRule{ID: f.Default.ID, Summary: f.Default.Summary, Citation: f.Default.Citation}
	formatRuleList := func(kind, section string, docs []formatRuleDoc) []formatRule {
		var out []formatRule
		for i, d := range docs {
			ctx := label(kind, i, d.ID)
			checkID(section, ctx, d.ID)
			requireText(ctx, "summary", d.Summary)
			requireText(ctx, "citation", d.Citation)
			r := formatRule{FormatRule: FormatRule{ID: d.ID, Summary: d.Summary, Citation: d.Citation}}
			r.when = d.When.compile(ctx+"when", problem)
			r.when.checkOnly(^bit(factHarmSubstantiated), ctx+"when", "format rules (it is known only after the discussion)", problem)
			out = append(out, r)
		}
		return out
	}
	p.format.meeting = formatRuleList("format rule", "format.meeting", f.Meeting)
	p.format.notes = formatRuleList("note", "format.notes", f.Notes)
	for i, d := range f.SeparateDiscussions {
		ctx := label("separate discussion", i, d.ID)
		checkID("format.separate_discussions", ctx, d.ID)
		requireText(ctx, "reason", d.Reason)
		requireText(ctx, "citation", d.Citation)
		if len(d.Discussions) == 0 {
			problem("%sdiscussions: name at least one discussion to convene", ctx)
		}
		r := separateRule{id: d.ID, discussions: d.Discussions, reason: d.Reason, citation: d.Citation}
		r.when = d.When.compile(ctx+"when", problem)
		if d.When == nil {
			problem("%swhen: required: separate discussions are for particular circumstances", ctx)
		}
		p.format.separate = append(p.format.separate, r)
	}
	return p, problems
}

func joinAgencies(as []Agency) string {
	if len(as) == len(agencyNames) {
		return "any agency"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, " or ")
}

// RecordChaseDue is when agencies that have not signed up to a record
// circulated at circulated are chased (the profile's record_chase; 1
// working day by default), in region (the profile's if empty).
func (p *Profile) RecordChaseDue(region calendar.Region, circulated time.Time) time.Time {
	if region == "" {
		region = p.region
	}
	return p.deadline(region, p.recordChase, circulated)
}
