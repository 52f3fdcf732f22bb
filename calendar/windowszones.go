package calendar

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
		panic("calendar: embedded windowszones.xml: " + err.Error())
	}
	m := make(map[string]string, len(doc.Zones))
	for _, z := range doc.Zones {
		if z.Territory == "001" {
			m[strings.ToLower(z.Other)] = strings.Fields(z.Type)[0]
		}
	}
	return m
})

// windowsZone maps a Windows time zone name to its IANA name.
func windowsZone(name string) (string, bool) {
	iana, ok := windowsZones()[strings.ToLower(name)]
	return iana, ok
}
