package openai

import (
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// Citations. Converse answers a request whose documents have citations
// enabled with citationsContent blocks (streams: citation deltas). Chat
// Completions has no document citation, only url_citation annotations
// ({"type":"url_citation","url_citation":{...}}); the gateway keeps that
// shape and adds a document_citation type:
//
//	{"type": "document_citation",
//	 "document_citation": {"title": "...", "document_index": 0,
//	   "location": {"type": "char"|"page"|"chunk"|"search_result", "start": 0, "end": 29},
//	   "quote": "..."}}
//
// A web citation (a model's web search) becomes a url_citation. The
// message text is the cited text, unchanged.

// annotation is one citation of a message, OpenAI-style.
type annotation struct {
	Type             string            `json:"type"` // document_citation | url_citation
	DocumentCitation *documentCitation `json:"document_citation,omitempty"`
	URLCitation      *urlCitation      `json:"url_citation,omitempty"`
}

type documentCitation struct {
	Title         string            `json:"title,omitempty"`
	DocumentIndex int               `json:"document_index"`
	Location      *citationLocation `json:"location,omitempty"`
	// Quote is the cited source text.
	Quote string `json:"quote"`
}

// citationLocation is where the quote is in the document: a character
// range (end exclusive), a page range or a chunk range, as Bedrock gives it.
type citationLocation struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

type urlCitation struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

// annotationOf maps a Converse citation.
func annotationOf(c *bedrock.Citation) annotation {
	var quote strings.Builder
	for i, s := range c.SourceContent {
		if i > 0 {
			quote.WriteByte('\n')
		}
		quote.WriteString(s.Text)
	}
	dc := &documentCitation{Title: c.Title, Quote: quote.String()}
	if l := c.Location; l != nil {
		var d *bedrock.DocumentLocation
		switch {
		case l.Web != nil:
			return annotation{Type: "url_citation", URLCitation: &urlCitation{URL: l.Web.URL, Title: c.Title}}
		case l.DocumentChar != nil:
			d, dc.Location = l.DocumentChar, &citationLocation{Type: "char"}
		case l.DocumentPage != nil:
			d, dc.Location = l.DocumentPage, &citationLocation{Type: "page"}
		case l.DocumentChunk != nil:
			d, dc.Location = l.DocumentChunk, &citationLocation{Type: "chunk"}
		case l.SearchResultLocation != nil:
			s := l.SearchResultLocation
			dc.DocumentIndex = s.SearchResultIndex
			dc.Location = &citationLocation{Type: "search_result", Start: s.Start, End: s.End}
		}
		if d != nil {
			dc.DocumentIndex, dc.Location.Start, dc.Location.End = d.DocumentIndex, d.Start, d.End
		}
	}
	if dc.Title == "" {
		dc.Title = c.Source
	}
	return annotation{Type: "document_citation", DocumentCitation: dc}
}

// annotationsOf maps a citationsContent block's citations.
func annotationsOf(cs []bedrock.Citation) []annotation {
	out := make([]annotation, 0, len(cs))
	for i := range cs {
		out = append(out, annotationOf(&cs[i]))
	}
	return out
}
