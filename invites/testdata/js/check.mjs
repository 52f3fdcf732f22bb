// Reads iCalendar files with ical.js (the parser Thunderbird uses) and
// prints, as JSON, what it makes of each: the method, the event's start and
// end as UTC instants, the zone it resolved them in, and the attendees.
// ical.js ships no time-zone database, so a TZID resolves only through the
// file's own VTIMEZONE: this checks our VTIMEZONE, not just our TZID.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const out = [];
for (const path of process.argv.slice(2)) {
  const comp = new ICAL.Component(ICAL.parse(readFileSync(path, 'utf8')));
  for (const vtz of comp.getAllSubcomponents('vtimezone')) {
    ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
  }
  const vevent = comp.getFirstSubcomponent('vevent');
  const ev = new ICAL.Event(vevent);
  const iso = (t) => t.toJSDate().toISOString();
  out.push({
    file: path,
    method: comp.getFirstPropertyValue('method'),
    uid: ev.uid,
    sequence: ev.sequence,
    summary: ev.summary,
    status: vevent.getFirstPropertyValue('status') || '',
    tzid: ev.startDate.zone ? ev.startDate.zone.tzid : null,
    floating: !ev.startDate.zone || ev.startDate.zone.tzid === 'floating',
    start: iso(ev.startDate),
    end: iso(ev.endDate),
    organizer: vevent.getFirstPropertyValue('organizer'),
    attendees: ev.attendees.map((a) => ({
      value: a.getFirstValue(),
      cn: a.getParameter('cn'),
      role: a.getParameter('role'),
      partstat: a.getParameter('partstat'),
      rsvp: a.getParameter('rsvp'),
    })),
  });
}
process.stdout.write(JSON.stringify(out));
