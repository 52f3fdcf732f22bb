"""Reads iCalendar files with Debian's python3-icalendar and prints, as JSON,
what it makes of each: the method, the event's start and end as UTC
instants, and the UTC offset that the file's own VTIMEZONE gives at the
start (computed by icalendar from the VTIMEZONE rules, not from pytz's copy
of the zone), so both our TZID and our VTIMEZONE are checked.
"""
import datetime
import json
import sys

import icalendar

UTC = datetime.timezone.utc


def iso(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    zones = {str(tz["TZID"]): tz for tz in cal.walk("VTIMEZONE")}
    for ev in cal.walk("VEVENT"):
        start = ev.decoded("DTSTART")
        end = ev.decoded("DTEND")
        tzid = ev["DTSTART"].params.get("TZID")
        rec = {
            "file": path,
            "method": str(cal.get("METHOD")),
            "uid": str(ev.get("UID")),
            "sequence": int(ev.get("SEQUENCE", 0)),
            "status": str(ev.get("STATUS", "")),
            "tzid": tzid,
            "floating": start.tzinfo is None,
            "start": iso(start) if start.tzinfo else None,
            "end": iso(end) if end.tzinfo else None,
            "vtimezone_offset_minutes": None,
            "attendees": [
                {"value": str(a), "cn": str(a.params.get("CN", "")), "role": str(a.params.get("ROLE", "")),
                 "partstat": str(a.params.get("PARTSTAT", "")), "rsvp": str(a.params.get("RSVP", ""))}
                for a in (ev.get("ATTENDEE") if isinstance(ev.get("ATTENDEE"), list) else [ev.get("ATTENDEE")])
                if a is not None
            ],
        }
        if tzid in zones:
            tz = zones[tzid].to_tz()
            naive = start.replace(tzinfo=None)
            local = tz.localize(naive) if hasattr(tz, "localize") else naive.replace(tzinfo=tz)
            rec["vtimezone_offset_minutes"] = int(local.utcoffset().total_seconds() // 60)
        out.append(rec)
json.dump(out, sys.stdout)
