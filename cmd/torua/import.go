package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
)

func init() { register(newImportCmd) }

func newImportCmd() *cobra.Command {
	var (
		gf       graphFlags
		vertices []string
		edges    []string
		label    string
		keyType  string
		opts     rowOptions
		batch    int
		parallel int
		bulk     bool
	)
	cmd := &cobra.Command{
		Use:   "import --vertices FILE ... --edges FILE ...",
		Short: "Load vertices and edges from CSV files into a graph",
		Long: `Load vertices and edges from CSV files into a graph, in batches sent to the router
(POST /graph/{graph}/import), several at a time: every vertex file first, then every edge file.

A file starts with a header. A column "name:type" is a property of that type: int, float,
bool, string (the default, "name" alone), or a list of those (int[], string[], ...) with ';'
between the elements; an empty cell is no property.
  Vertex files: the key column (--key, default id) is the vertices' primary key; labels are
  --label's and a :LABEL column's (';' between them); the first label declares the key.
  Edge files: :START and :END hold the keys of the ends (of type --key-type, by default the
  vertex files' key type, else int), on the labels --start-label and --end-label (default
  --label); :TYPE (or --type) the type; :RANK, optional, tells apart several edges of one
  type between the same two vertices.

A re-run loads nothing twice: what a batch finds already there is counted as found. A bad row
(a wrong number of fields, a cell not of its column's type) stops the import, naming the file,
line and column; the batches sent before it stay loaded.

--bulk loads a new (or empty) graph many times faster, in one request: the router reads the
whole load, sorts each shard's keys, and the shards take them as ready-made tables. The graph
answers no query until the load ends; a load that fails (a bad row, a lost connection) leaves
nothing usable: drop the graph (DELETE /graph/{graph}) and run it again. --timeout does not
bound it.`,
		Example: `  torua import --graph social --label Person --vertices people.csv --type KNOWS --edges knows.csv
  torua import --bulk --graph social --label Person --vertices people.csv --type KNOWS --edges knows.csv
  torua import --graph shop --vertices customers.csv --vertices products.csv \
      --edges orders.csv --start-label Customer --end-label Product --key-type string`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(vertices)+len(edges) == 0 {
				return errors.New("nothing to import: give --vertices and/or --edges files")
			}
			if batch < 1 || parallel < 1 {
				return errors.New("--batch and --parallel must be at least 1")
			}
			if label != "" {
				opts.labels = []string{label}
			}
			if opts.startLabel == "" {
				opts.startLabel = label
			}
			if opts.endLabel == "" {
				opts.endLabel = label
			}
			if len(edges) > 0 && (opts.startLabel == "" || opts.endLabel == "") {
				return errors.New("edges need the labels of their ends: --start-label and --end-label (or --label)")
			}
			var err error
			if opts.keyType, err = parseCellType(keyType); err != nil || opts.keyType.list {
				return fmt.Errorf("--key-type %q: want int, float, bool or string", keyType)
			}
			copts := []client.Option{client.WithMaxConnsPerHost(parallel)}
			if bulk {
				copts = append(copts, client.WithTimeout(0)) // one request for the whole load
			}
			c, err := gf.client(copts...)
			if err != nil {
				return err
			}
			defer c.Close()
			im := &importer{c: c, graph: gf.graph, opts: &opts, batch: batch, parallel: parallel,
				keyTypeSet: cmd.Flags().Changed("key-type"), log: cmd.ErrOrStderr()}
			if bulk {
				if err := im.runBulk(cmd.Context(), vertices, edges); err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), im.bulkSummary())
				return err
			}
			if err := im.run(cmd.Context(), vertices, edges); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), im.summary())
			return err
		},
	}
	gf.register(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&vertices, "vertices", nil, "a CSV file of vertices (repeatable)")
	f.StringArrayVar(&edges, "edges", nil, "a CSV file of edges (repeatable)")
	f.StringVar(&opts.key, "key", "id", "the vertices' primary-key column")
	f.StringVar(&keyType, "key-type", "int", "the type of :START and :END: int, float, bool or string (default: the vertex files' key type)")
	f.StringVar(&label, "label", "", "a label for every vertex, and the default of --start-label and --end-label")
	f.StringVar(&opts.typ, "type", "", "the type of every edge whose :TYPE is empty or absent")
	f.StringVar(&opts.startLabel, "start-label", "", "the label whose key :START holds (default --label)")
	f.StringVar(&opts.endLabel, "end-label", "", "the label whose key :END holds (default --label)")
	f.IntVar(&batch, "batch", 5000, "rows per request")
	f.IntVar(&parallel, "parallel", 4, "requests in flight")
	f.BoolVar(&bulk, "bulk", false, "load a new or empty graph in one request, as tables (offline until done)")
	return cmd
}

// errImportStopped stops the reading of a phase whose sending failed (or was cancelled).
var errImportStopped = errors.New("import stopped")

// importer runs one torua import.
type importer struct {
	c               *client.Client
	graph           string
	opts            *rowOptions
	batch, parallel int
	keyTypeSet      bool // --key-type given: the vertex files do not choose it
	log             io.Writer

	start      time.Time
	totalBytes int64        // of every file, for the progress bar
	doneBytes  atomic.Int64 // of the rows loaded
	doneRows   atomic.Int64

	mu      sync.Mutex // guards res and batches
	res     client.ImportResult
	batches int

	// bulk, for --bulk, is the body of the one request: the batches go there.
	bulk    *io.PipeWriter
	bulkRes *client.BulkResult
}

// importJob is one batch on its way: its body and what it covers.
type importJob struct {
	body        []byte
	file        string
	first, last int // lines
	rows        int
	bytes       int64 // of the file, read for these rows
}

// run loads the vertex files, then the edge files.
func (im *importer) run(ctx context.Context, vertices, edges []string) error {
	for _, name := range append(append([]string{}, vertices...), edges...) {
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		im.totalBytes += st.Size()
	}
	im.start = time.Now()
	stop := im.startProgress()
	err := im.phase(ctx, "vertices", vertices, false)
	if err == nil {
		err = im.phase(ctx, "edges", edges, true)
	}
	stop()
	return err
}

// phase sends the batches of files, im.parallel at a time, and waits for their answers. A bad
// row or a refused batch stops it: nothing more is sent.
func (im *importer) phase(ctx context.Context, what string, files []string, edges bool) error {
	if len(files) == 0 {
		return nil
	}
	before := im.doneRows.Load()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan importJob)
	var wg sync.WaitGroup
	for range im.parallel {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					continue // the phase failed: drop what is queued
				}
				var res *client.ImportResult
				var err error
				if im.bulk != nil {
					res = &client.ImportResult{}
					_, err = im.bulk.Write(j.body)
				} else {
					res, err = im.c.Import(ctx, im.graph, j.body)
				}
				if err != nil {
					cancel(fmt.Errorf("%s lines %d-%d: %w", j.file, j.first, j.last, err))
					continue
				}
				im.done(j, res)
			}
		})
	}
	var readErr error
	for _, name := range files {
		if readErr = im.readFile(ctx, name, edges, jobs); readErr != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	sendErr := context.Cause(ctx)
	im.mu.Lock()
	loaded := fmt.Sprintf("%s (%s) loaded before it stay loaded; a re-run finds them and loads the rest",
		plural(int64(im.batches), "batch", "batches"), plural(im.doneRows.Load(), "row", "rows"))
	im.mu.Unlock()
	switch {
	case im.bulk != nil && readErr != nil && !errors.Is(readErr, errImportStopped):
		return readErr // runBulk says what became of the load
	case im.bulk != nil && sendErr != nil:
		return sendErr
	case readErr != nil && !errors.Is(readErr, errImportStopped):
		return fmt.Errorf("%w; nothing after it was loaded: %s", readErr, loaded)
	case sendErr != nil:
		return fmt.Errorf("import stopped: %w; nothing more was sent: %s", sendErr, loaded)
	}
	if !isTerminalWriter(im.log) { // on a terminal, the bar shows it
		fmt.Fprintf(im.log, "import: %s done: %d rows from %s, %s\n", what, im.doneRows.Load()-before, plural(int64(len(files)), "file", "files"), im.rate())
	}
	return nil
}

// readFile reads one file's rows into batches and hands them to the senders.
func (im *importer) readFile(ctx context.Context, name string, edges bool, jobs chan<- importJob) error {
	fh, err := os.Open(name)
	if err != nil {
		return err
	}
	defer func() { _ = fh.Close() }()
	f, err := openCSV(name, bufio.NewReaderSize(fh, 256<<10), edges, im.opts)
	if err != nil {
		return err
	}
	if !edges && !im.keyTypeSet {
		im.opts.keyType = f.keyType() // the edges' ends are keys of these vertices
	}
	var (
		b     exec.ImportBatch
		rows  int
		first int
		sent  int64 // bytes of the file already handed over, the header's too
	)
	flush := func(last int) error {
		if rows == 0 {
			return nil
		}
		body, err := encodeBatch(&b)
		if err != nil {
			return fmt.Errorf("%s lines %d-%d: %w", name, first, last, err)
		}
		off := f.offset()
		select {
		case jobs <- importJob{body: body, file: name, first: first, last: last, rows: rows, bytes: off - sent}:
		case <-ctx.Done():
			return errImportStopped
		}
		sent, b, rows = off, exec.ImportBatch{}, 0
		return nil
	}
	for last := 0; ; {
		v, e, err := f.next()
		if err == io.EOF {
			return flush(last)
		}
		if err != nil {
			return err
		}
		last, _ = f.r.FieldPos(0)
		if rows == 0 {
			first = last
		}
		if v != nil {
			if b.Keys == nil {
				b.Keys = map[string]string{}
			}
			b.Keys[v.Labels[0]] = im.opts.key
			b.Vertices = append(b.Vertices, *v)
		} else {
			b.Edges = append(b.Edges, *e)
		}
		if rows++; rows == im.batch {
			if err := flush(last); err != nil {
				return err
			}
		}
	}
}

// encodeBatch writes a batch as the router reads it: values in the JSON of the graph API, so
// that a float stays a float (1.0) and an integer an integer.
func encodeBatch(b *exec.ImportBatch) ([]byte, error) {
	out := exec.ImportBatch{Keys: b.Keys, Vertices: make([]exec.ImportVertex, len(b.Vertices)), Edges: make([]exec.ImportEdge, len(b.Edges))}
	props := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		return value.ToJSON(m).(map[string]any)
	}
	for i, v := range b.Vertices {
		out.Vertices[i] = exec.ImportVertex{Labels: v.Labels, Props: props(v.Props)}
	}
	for i, e := range b.Edges {
		e.From.Key, e.To.Key, e.Props = value.ToJSON(e.From.Key), value.ToJSON(e.To.Key), props(e.Props)
		out.Edges[i] = e
	}
	return json.Marshal(out)
}

// done counts a batch's answer.
func (im *importer) done(j importJob, res *client.ImportResult) {
	im.mu.Lock()
	im.res.Vertices += res.Vertices
	im.res.Edges += res.Edges
	im.res.VerticesFound += res.VerticesFound
	im.res.EdgesFound += res.EdgesFound
	im.res.Pending += res.Pending
	im.batches++
	im.mu.Unlock()
	im.doneRows.Add(int64(j.rows))
	im.doneBytes.Add(j.bytes)
}

// rate is the rows loaded per second so far.
func (im *importer) rate() string {
	secs := time.Since(im.start).Seconds()
	return strconv.FormatFloat(float64(im.doneRows.Load())/max(secs, 1e-3), 'f', 0, 64) + " rows/s"
}

// summary says what the import did.
func (im *importer) summary() string {
	im.mu.Lock()
	defer im.mu.Unlock()
	r := im.res
	s := fmt.Sprintf("imported into graph %s: %d vertices and %d edges created, %d vertices and %d edges found already there; %d rows in %s, %s",
		im.graph, r.Vertices, r.Edges, r.VerticesFound, r.EdgesFound, im.doneRows.Load(), time.Since(im.start).Round(time.Millisecond), im.rate())
	if r.Pending > 0 {
		s += fmt.Sprintf("; %d edge halves pending (their nodes deliver them shortly)", r.Pending)
	}
	return s
}

// startProgress shows the import's progress on im.log until the returned stop: a bar on a
// terminal (rows, rate and, from the bytes of the files loaded, the time left), otherwise a
// line every two seconds.
func (im *importer) startProgress() (stop func()) {
	describe := func() string {
		return fmt.Sprintf("import: %d rows, %s", im.doneRows.Load(), im.rate())
	}
	if !isTerminalWriter(im.log) {
		return bench.ReportEvery(im.log, 2*time.Second, func(time.Duration) string {
			line := describe()
			if b := im.doneBytes.Load(); b > 0 && im.totalBytes > 0 {
				left := time.Duration(float64(time.Since(im.start)) * float64(im.totalBytes-b) / float64(b))
				line += fmt.Sprintf(", %d%%, about %s left", 100*b/im.totalBytes, left.Round(time.Second))
			}
			return line
		})
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	pb := progressbar.NewOptions64(max(im.totalBytes, 1),
		progressbar.OptionSetWriter(im.log),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetDescription(describe()),
	)
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				_ = pb.Finish()
				return
			case <-tick.C:
				pb.Describe(describe())
				_ = pb.Set64(im.doneBytes.Load())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// errBulkAnswered stops the reading of a bulk load's files once the router has answered.
var errBulkAnswered = errors.New("the router answered")

// runBulk sends the vertex files, then the edge files, as one bulk load (--bulk): the batches
// go one after the other into the request's body as they are read, and the router answers once
// the shards hold them.
func (im *importer) runBulk(ctx context.Context, vertices, edges []string) error {
	im.parallel = 1 // one body: batches in the files' order
	pr, pw := io.Pipe()
	im.bulk = pw
	type answer struct {
		res *client.BulkResult
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := im.c.BulkLoad(ctx, im.graph, pr)
		_ = pr.CloseWithError(errBulkAnswered) // stops a sender still writing
		answered <- answer{res, err}
	}()
	err := im.run(ctx, vertices, edges)
	if err != nil {
		_ = pw.CloseWithError(err) // the router refuses a body cut short
	} else {
		_ = pw.Close()
		// The bar (on a terminal) is gone: say what the wait is for.
		fmt.Fprintf(im.log, "import: %d rows sent, %s; the router is loading them into the shards\n", im.doneRows.Load(), im.rate())
	}
	a := <-answered
	if err != nil && !errors.Is(err, errBulkAnswered) {
		// The files stopped the load (a bad row): the router saw the body cut short and
		// loaded nothing.
		return fmt.Errorf("%w; nothing was loaded", err)
	}
	if a.err != nil {
		return fmt.Errorf("bulk load of graph %s failed: %w", im.graph, a.err)
	}
	im.bulkRes = a.res
	return nil
}

// bulkSummary says what a bulk load did.
func (im *importer) bulkSummary() string {
	r := im.bulkRes
	return fmt.Sprintf("bulk-loaded graph %s: %d vertices and %d edges, %d keys (%s) in %d parts; %d rows in %s (read and sorted in %s, written in %s), %s",
		im.graph, r.Vertices, r.Edges, r.Keys, humanBytes(r.Bytes), r.Requests, im.doneRows.Load(),
		time.Since(im.start).Round(time.Millisecond), r.Spooled, r.Loaded, im.rate())
}

// humanBytes writes n bytes for a person: 1.5 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
