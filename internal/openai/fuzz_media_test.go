package openai

import (
	"strings"
	"testing"
)

// FuzzParseDataURI: any data: URI parses or fails with an error that does
// not quote the data (it may be megabytes); what parses has a media type.
func FuzzParseDataURI(f *testing.F) {
	for _, s := range []string{
		"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
		"data:,hello", "data:text/plain;charset=utf-8,%E2%9C%93", "DATA:IMAGE/JPEG;BASE64,/9j/4AAQ",
		"data:application/pdf;base64,JVBERi0=", "data:;base64,", "data:image/png;base64,!!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDataURI(s)
		if err != nil {
			if len(s) > 200 && strings.Contains(err.Error(), s[len(s)-100:]) {
				t.Errorf("the error quotes the data: %v", err)
			}
			return
		}
		if d.MIME == "" {
			t.Error("parsed without a media type")
		}
	})
}

// FuzzImageFormatOf: format sniffing survives any bytes and media type.
func FuzzImageFormatOf(f *testing.F) {
	f.Add("image/png", []byte("\x89PNG\r\n\x1a\n"))
	f.Add("image/jpeg", []byte("\xff\xd8\xff"))
	f.Add("image/webp", []byte("RIFF\x00\x00\x00\x00WEBP"))
	f.Add("image/gif", []byte("GIF89a"))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, mt string, data []byte) {
		imageFormatOf(mt, data)
	})
}
