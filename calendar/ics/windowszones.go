package ics

import (
	_ "embed"
	"encoding/xml"
	"strings"
	"sync"
)

// windowsZonesXML is CLDR's mapping from Windows time zone names, which
// Outlook and Exchange write as TZIDs, to IANA names.
//
//go:embed windowszones.xml
var windowsZonesXML []byte

var windowsZones = sync.OnceValue(func() map[string]string {
	var doc struct {
		Zones []struct {
			Other     string `xml:"other,attr"`
			Territory string `xml:"territory,attr"`
			Type      string `xml:"type,attr"`
		} `xml:"windowsZones>mapTimezones>mapZone"`
	}
	if err := xml.Unmarshal(windowsZonesXML, &doc); err != nil {
		panic("ics: embedded windowszones.xml: " + err.Error())
	}
	m := make(map[string]string, len(doc.Zones))
	for _, z := range doc.Zones {
		if z.Territory == "001" {
			m[strings.ToLower(z.Other)] = strings.Fields(z.Type)[0]
		}
	}
	return m
})

// windowsDisplayNames are zone display names that Outlook 2007–2010 and
// some mobile clients wrote as TZID instead of the Windows name.
var windowsDisplayNames = map[string]string{
	"(utc+00:00) dublin, edinburgh, lisbon, london":                 "Europe/London",
	"(gmt) greenwich mean time : dublin, edinburgh, lisbon, london": "Europe/London",
	"(utc) dublin, edinburgh, lisbon, london":                       "Europe/London",
	"(utc) coordinated universal time":                              "UTC",
	"(utc+01:00) amsterdam, berlin, bern, rome, stockholm, vienna":  "Europe/Berlin",
	"(utc+01:00) brussels, copenhagen, madrid, paris":               "Europe/Paris",
}

// windowsZone maps a Windows time zone name (or an old Outlook display
// name) to its IANA name.
func windowsZone(name string) (string, bool) {
	name = strings.ToLower(name)
	if iana, ok := windowsZones()[name]; ok {
		return iana, true
	}
	iana, ok := windowsDisplayNames[name]
	return iana, ok
}
