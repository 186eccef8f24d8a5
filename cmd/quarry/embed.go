package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

// embedStdin is where "quarry embed -" reads (a variable for tests).
var embedStdin io.Reader = os.Stdin

const embedUsage = `usage: quarry embed --model ID [flags] FILE|-

Embeds every record of FILE (or standard input) with a Bedrock embedding
model (Titan, Cohere or Nova) and writes one JSON line per record,
{"id": …, "embedding": […]}, in input order. Records are lines of text,
JSONL objects {"id": …, "text": …}, or CSV rows with a header. A run that
stops (Ctrl-C, an error) can be started again with the same flags: it
resumes after the last record written to --out, sending no record twice.

Flags:
  --model ID          embedding model ID, profile or ARN (required)
  --dimensions N      vector size (Titan v2: 256, 512, 1024; Cohere v4 and
                      Nova: their sizes)
  --input-type T      Cohere input_type (search_document, search_query,
                      classification, clustering) or Nova embedding purpose
  --format F          lines, jsonl or csv (default: from the file name;
                      .jsonl/.ndjson are JSONL, .csv is CSV, else lines)
  --column NAME       CSV column holding the text (default text)
  --id-column NAME    CSV column holding the id (default id, if present;
                      else the row number)
  --out FILE          output (default FILE.embeddings.jsonl; standard output
                      for "-")
  --concurrency N     calls in flight (default 8)
  --rpm N             most calls per minute (default 6000, Titan Text
                      Embeddings v2's default quota; -1 for no cap)
  --region R, --profile P, --endpoint-url URL   as for quarry chat
`

type embedOptions struct {
	clientFlags
	model, inputType, format, column, idColumn, out, input string
	dimensions, concurrency                                int
}

// embedRecord is one input record: its id as JSON, and its text.
type embedRecord struct {
	id   json.RawMessage
	text string
}

// cliUsageError is a command-line mistake (exit 2); other failures
// exit 1, an interrupt 130.
type cliUsageError struct{ msg string }

func (e *cliUsageError) Error() string { return e.msg }

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseEmbedArgs(args)
	if code, stop := parseFailed("embed", embedUsage, err, stderr); stop {
		return code
	}
	plan, err := newEmbedPlan(o)
	if err != nil {
		fmt.Fprintln(stderr, "quarry embed: "+chatOneLine(err.Error()))
		return 2
	}
	records, err := readEmbedInput(o)
	if err != nil {
		fmt.Fprintln(stderr, "quarry embed: "+chatOneLine(err.Error()))
		return 1
	}
	if err := plan.checkTexts(records); err != nil {
		fmt.Fprintln(stderr, "quarry embed: "+chatOneLine(err.Error()))
		return 1
	}
	out, done, err := openEmbedOutput(o, records, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "quarry embed: "+chatOneLine(err.Error()))
		return 1
	}
	defer out.Close()
	client, err := o.client(ctx)
	if err != nil {
		return cmdFailure("embed", stderr, err)
	}
	p := newProgress(stderr, len(records), done)
	n, err := embedAll(ctx, client, plan, records[done:], o.concurrency, out, p.add)
	p.finish()
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "quarry embed: stopped after %d of %d records; run the same command again to resume\n", done+n, len(records))
		return cmdFailure("embed", stderr, err)
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "quarry embed: interrupted after %d of %d records; run the same command again to resume\n", done+n, len(records))
		return 130
	}
	if o.out != "-" {
		fmt.Fprintf(stderr, "quarry embed: %d records embedded into %s\n", len(records), o.out)
	}
	return 0
}

func parseEmbedArgs(args []string) (*embedOptions, error) {
	o := &embedOptions{}
	fs := o.clientFlags.flagSet("embed")
	fs.StringVar(&o.model, "model", "", "")
	fs.IntVar(&o.dimensions, "dimensions", 0, "")
	fs.StringVar(&o.inputType, "input-type", "", "")
	fs.StringVar(&o.format, "format", "", "")
	fs.StringVar(&o.column, "column", "text", "")
	fs.StringVar(&o.idColumn, "id-column", "", "")
	fs.StringVar(&o.out, "out", "", "")
	fs.IntVar(&o.concurrency, "concurrency", 8, "")
	fs.IntVar(&o.rpm, "rpm", 6000, "")
	words, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case o.model == "":
		return nil, &cliUsageError{"--model is required"}
	case len(words) != 1:
		return nil, &cliUsageError{fmt.Sprintf(`one input FILE (or "-" for standard input) is required (got %d arguments)`, len(words))}
	case o.concurrency < 1 || o.concurrency > 256:
		return nil, &cliUsageError{fmt.Sprintf("--concurrency must be between 1 and 256 (got %d)", o.concurrency)}
	case o.rpm == 0:
		return nil, &cliUsageError{"--rpm must be positive, or -1 for no cap"}
	case o.dimensions < 0:
		return nil, &cliUsageError{fmt.Sprintf("--dimensions must be positive (got %d)", o.dimensions)}
	}
	o.input = words[0]
	if o.format == "" {
		switch strings.ToLower(filepath.Ext(o.input)) {
		case ".jsonl", ".ndjson":
			o.format = "jsonl"
		case ".csv":
			o.format = "csv"
		default:
			o.format = "lines"
		}
	}
	if o.format != "lines" && o.format != "jsonl" && o.format != "csv" {
		return nil, &cliUsageError{fmt.Sprintf("--format must be lines, jsonl or csv (got %q)", o.format)}
	}
	if o.out == "" {
		o.out = "-"
		if o.input != "-" {
			o.out = o.input + ".embeddings.jsonl"
		}
	}
	return o, nil
}

// parseInterspersed parses flags before and after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &cliUsageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return words, nil
		}
		words = append(words, args[0])
		args = args[1:]
	}
}

// readEmbedInput reads every record, with errors that name the line.
func readEmbedInput(o *embedOptions) ([]embedRecord, error) {
	var r io.Reader = embedStdin
	name := "standard input"
	if o.input != "-" {
		f, err := os.Open(o.input)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, o.input
	}
	if o.format == "csv" {
		return readEmbedCSV(r, name, o.column, o.idColumn)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []embedRecord
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue // blank lines are not records
		}
		id := json.RawMessage(strconv.Itoa(line))
		if o.format == "jsonl" {
			var rec struct {
				ID   json.RawMessage `json:"id"`
				Text *string         `json:"text"`
			}
			if err := json.Unmarshal([]byte(text), &rec); err != nil {
				return nil, fmt.Errorf("%s line %d: not a JSON object: %v", name, line, err)
			}
			if rec.Text == nil {
				return nil, fmt.Errorf(`%s line %d: no "text" string`, name, line)
			}
			if strings.TrimSpace(*rec.Text) == "" {
				return nil, fmt.Errorf(`%s line %d: "text" is empty`, name, line)
			}
			if len(rec.ID) > 0 && string(rec.ID) != "null" {
				id = rec.ID
			}
			text = *rec.Text
		}
		out = append(out, embedRecord{id: id, text: text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no records", name)
	}
	return out, nil
}

func readEmbedCSV(r io.Reader, name, column, idColumn string) ([]embedRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the CSV header: %v", name, err)
	}
	textAt, idAt := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(h) {
		case column:
			textAt = i
		case idColumn:
			idAt = i
		}
		if idColumn == "" && strings.TrimSpace(h) == "id" {
			idAt = i
		}
	}
	if textAt < 0 {
		return nil, fmt.Errorf("%s: no column %q in the CSV header (%s); name the text column with --column", name, column, strings.Join(header, ", "))
	}
	if idColumn != "" && idAt < 0 {
		return nil, fmt.Errorf("%s: no column %q in the CSV header (%s)", name, idColumn, strings.Join(header, ", "))
	}
	var out []embedRecord
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		if textAt >= len(rec) || strings.TrimSpace(rec[textAt]) == "" {
			return nil, fmt.Errorf("%s line %d: column %q is empty", name, line, column)
		}
		id := json.RawMessage(strconv.Itoa(row))
		if idAt >= 0 && idAt < len(rec) {
			id, _ = json.Marshal(rec[idAt])
		}
		out = append(out, embedRecord{id: id, text: rec[textAt]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no records", name)
	}
	return out, nil
}

// openEmbedOutput opens the output for appending and returns how many
// records it already holds. Output is written in input order, so those are
// the first records of the input; their ids must match. A line cut short
// by an interruption is dropped.
func openEmbedOutput(o *embedOptions, records []embedRecord, stdout io.Writer) (io.WriteCloser, int, error) {
	if o.out == "-" {
		return nopWriteCloser{stdout}, 0, nil
	}
	f, err := os.OpenFile(o.out, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, err
	}
	done, keep, err := scanEmbedOutput(f, o.out, records)
	if err == nil {
		err = f.Truncate(keep)
	}
	if err == nil {
		_, err = f.Seek(keep, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, done, nil
}

func scanEmbedOutput(f *os.File, name string, records []embedRecord) (done int, keep int64, err error) {
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return done, keep, nil // a partial last line (if any) is dropped
		}
		if err != nil {
			return 0, 0, err
		}
		var rec struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(line, &rec) != nil {
			return 0, 0, fmt.Errorf("%s line %d is not an embedding record; remove the file or choose another --out", name, done+1)
		}
		if done >= len(records) {
			return 0, 0, fmt.Errorf("%s holds more records than the input; it was written for another input (remove it or choose another --out)", name)
		}
		if string(rec.ID) != string(records[done].id) {
			return 0, 0, fmt.Errorf("%s line %d has id %s where the input has %s: it was written for another input (remove it or choose another --out)", name, done+1, rec.ID, records[done].id)
		}
		done++
		keep += int64(len(line))
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// embedResult is one batch's output lines, or its error.
type embedResult struct {
	i     int
	lines []byte
	n     int
	err   error
}

// embedAll embeds records in batches, concurrency calls in flight, and
// writes the results in input order. When ctx ends it sends no new batch
// but lets the ones in flight finish and writes them, so that a resumed run
// starts exactly after what was sent. It returns how many records it wrote.
func embedAll(ctx context.Context, c *bedrock.Client, plan *embedPlan, records []embedRecord, concurrency int, out io.Writer, progress func(int)) (int, error) {
	size := plan.batch
	nb := (len(records) + size - 1) / size
	jobs := make(chan int)
	results := make(chan embedResult, concurrency)
	// Calls outlive an interrupt (see above), bounded by their own timeout.
	callCtx := context.WithoutCancel(ctx)
	for w := 0; w < min(concurrency, nb); w++ {
		go func() {
			for i := range jobs {
				batch := records[i*size : min((i+1)*size, len(records))]
				cctx, cancel := context.WithTimeout(callCtx, 2*time.Minute)
				lines, err := plan.embed(cctx, c, batch)
				cancel()
				results <- embedResult{i: i, lines: lines, n: len(batch), err: err}
			}
		}()
	}
	failed := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		defer close(jobs)
		i := 0
		defer func() { sent <- i }()
		for ; i < nb; i++ {
			// Checked first, so that an interrupt stops the sending at once.
			select {
			case <-ctx.Done():
				return
			case <-failed:
				return
			default:
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			case <-failed:
				return
			}
		}
	}()
	pending := map[int]embedResult{}
	next, written, received := 0, 0, 0
	total := -1    // batches sent, once the sender has stopped
	failedAt := nb // the first batch that failed: the ones before it are still written
	var firstErr error
	fail := func(i int, err error) {
		if firstErr == nil {
			close(failed)
		}
		if i < failedAt {
			failedAt, firstErr = i, err
		}
	}
	for total < 0 || received < total {
		select {
		case total = <-sent:
			continue
		case r := <-results:
			received++
			if r.err != nil {
				fail(r.i, r.err)
				continue
			}
			pending[r.i] = r
		}
		for next < failedAt {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			if _, err := out.Write(r.lines); err != nil {
				fail(next, fmt.Errorf("writing the output: %w", err))
				break
			}
			next++
			written += r.n
			progress(r.n)
		}
	}
	return written, firstErr
}
