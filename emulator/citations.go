package emulator

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// docCitation is a document sent with citations enabled: the emulator's
// answer cites it, quoting its opening, as Bedrock answers with a
// citationsContent block.
type docCitation struct {
	index int    // the document's index among the request's documents
	title string // the document's name
	kind  string // documentChar, documentPage or documentChunk
	quote string
	end   int
}

// maxQuote bounds the quoted opening of a cited document, in runes.
const maxQuote = 80

// citedDocument returns the citation for a document block with citations
// enabled, nil otherwise.
func citedDocument(d *documentBlock, index int) *docCitation {
	var cfg struct {
		Enabled bool `json:"enabled"`
	}
	if len(d.Citations) == 0 || json.Unmarshal(d.Citations, &cfg) != nil || !cfg.Enabled {
		return nil
	}
	var src struct {
		Bytes   string `json:"bytes"`
		Text    string `json:"text"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	_ = json.Unmarshal(d.Source, &src)
	c := &docCitation{index: index, title: d.Name, kind: "documentChar"}
	text := src.Text
	switch {
	case len(src.Content) > 0:
		c.kind, text = "documentChunk", src.Content[0].Text
	case src.Bytes != "":
		if b, err := base64.StdEncoding.DecodeString(src.Bytes); err == nil && utf8.Valid(b) && d.Format != "pdf" {
			text = string(b)
		}
	}
	if d.Format == "pdf" {
		// Bedrock locates PDF citations by page; the emulator does not
		// read PDFs, so it quotes nothing and cites the first page.
		c.kind, c.end = "documentPage", 1
		return c
	}
	text = strings.TrimSpace(text)
	if r := []rune(text); len(r) > maxQuote {
		text = string(r[:maxQuote])
	}
	c.quote = text
	c.end = len([]rune(text))
	if c.kind == "documentChunk" {
		c.end = 1
	}
	return c
}

// appendCitationJSON renders c as a Converse Citation.
func appendCitationJSON(b []byte, c *docCitation) []byte {
	b = append(b, `{"location":{"`...)
	b = append(b, c.kind...)
	b = append(b, `":{"documentIndex":`...)
	b = appendInt(b, c.index)
	b = append(b, `,"end":`...)
	b = appendInt(b, c.end)
	b = append(b, `,"start":0}},"sourceContent":[{"text":`...)
	b = appendJSONString(b, c.quote)
	b = append(b, `}],"title":`...)
	b = appendJSONString(b, c.title)
	return append(b, '}')
}

// appendCitationsContent renders the answer text and its citations as a
// citationsContent content block.
func appendCitationsContent(b []byte, text string, cites []docCitation) []byte {
	b = append(b, `{"citationsContent":{"citations":[`...)
	for i := range cites {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCitationJSON(b, &cites[i])
	}
	b = append(b, `],"content":[{"text":`...)
	b = appendJSONString(b, text)
	return append(b, `}]}}`...)
}

// citationDelta streams one citation of block idx.
func (ew *eventWriter) citationDelta(idx int, c *docCitation) error {
	b := appendIndex(make([]byte, 0, 256+len(c.quote)), idx)
	b = append(b, `,"delta":{"citation":`...)
	b = appendCitationJSON(b, c)
	b = append(b, `},"p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("contentBlockDelta", append(b, '}'))
}
