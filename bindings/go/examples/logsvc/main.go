// Command logsvc is an HTTP service that embeds logjar: it writes a log line for each
// request it serves into its own logjar database, and answers LogQL queries over those
// logs at GET /logs with the body Loki's query API returns.
//
//	go run ./examples/logsvc -addr 127.0.0.1:8080 -data /tmp/logsvc
//	curl localhost:8080/hello
//	curl 'localhost:8080/logs?query={service="logsvc"} | logfmt | status >= 400'
//	curl 'localhost:8080/logs?query=sum by (path) (count_over_time({service="logsvc"} | logfmt [5m]))&time=now'
//
// Endpoints:
//
//   - GET /hello: a sample endpoint ("hello, <name>" with ?name=).
//   - GET /logs?query=…&start=&end=&limit=&direction=&step=&time=: runs the LogQL query
//     over the service's own request logs. start, end and time are Unix nanoseconds,
//     RFC 3339, or "now"; without time it is a range query (default: the last hour).
//     A bad query is a 400 with logjar's message.
//
// Each request is logged as a logfmt line, e.g.
// `level=info method=GET path=/hello status=200 duration_ms=0.041 bytes=12`, in the
// stream {service="logsvc"}. Lines are buffered and pushed in batches (every 200 ms,
// or at 500 lines); /logs pushes what is pending first, so it sees every earlier request.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	logjar "github.com/logjar/logjar/bindings/go"
)

// Service is the HTTP handler: the sample endpoints, /logs, and request logging.
type Service struct {
	db      *logjar.DB
	mux     *http.ServeMux
	mu      sync.Mutex // guards pending
	pending []logjar.Entry
	pushMu  sync.Mutex // one push at a time, so batches land in order
	stop    chan struct{}
	done    chan struct{}
}

// labels of the service's log stream.
var labels = map[string]string{"service": "logsvc"}

const (
	batchEvery = 200 * time.Millisecond
	batchMax   = 500
)

// NewService returns the service writing its logs to db. Call Close to push the last
// lines and stop the background pusher (it does not close db).
func NewService(db *logjar.DB) *Service {
	s := &Service{db: db, mux: http.NewServeMux(), stop: make(chan struct{}), done: make(chan struct{})}
	s.mux.HandleFunc("GET /hello", s.hello)
	s.mux.HandleFunc("GET /logs", s.logs)
	go s.pushLoop()
	return s
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// ServeHTTP serves the request and logs it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	level := "info"
	switch {
	case sw.status >= 500:
		level = "error"
	case sw.status >= 400:
		level = "warn"
	}
	line := fmt.Sprintf("level=%s method=%s path=%s status=%d duration_ms=%.3f bytes=%d",
		level, r.Method, strconv.Quote(r.URL.Path), sw.status,
		float64(time.Since(start).Microseconds())/1000, sw.bytes)
	s.mu.Lock()
	s.pending = append(s.pending, logjar.Entry{Time: start, Line: line})
	full := len(s.pending) >= batchMax
	s.mu.Unlock()
	if full {
		s.flush()
	}
}

// flush pushes the pending lines.
func (s *Service) flush() {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if _, err := s.db.Push(context.Background(), "", []logjar.Stream{{Labels: labels, Entries: batch}}); err != nil {
		log.Printf("logsvc: pushing %d log lines: %v", len(batch), err)
	}
}

func (s *Service) pushLoop() {
	defer close(s.done)
	t := time.NewTicker(batchEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// Close pushes the pending lines and stops the background pusher.
func (s *Service) Close() {
	close(s.stop)
	<-s.done
}

func (s *Service) hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "hello, %s\n", name)
}

// timeParam turns "now" into Unix ns; other values go to logjar as they are (ns or
// RFC 3339 strings).
func timeParam(v string) any {
	if v == "now" {
		return time.Now().UnixNano()
	}
	return v
}

func (s *Service) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := map[string]any{"query": q.Get("query")}
	if q.Get("query") == "" {
		http.Error(w, "missing query parameter", http.StatusBadRequest)
		return
	}
	for _, k := range []string{"start", "end", "time"} {
		if v := q.Get(k); v != "" {
			req[k] = timeParam(v)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			http.Error(w, "limit must be a non-negative integer", http.StatusBadRequest)
			return
		}
		req["limit"] = n
	}
	for _, k := range []string{"direction", "step"} {
		if v := q.Get(k); v != "" {
			req[k] = v
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.flush() // read your writes: every earlier request is in the answer
	out, err := s.db.QueryLokiJSON(r.Context(), "", body)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, logjar.ErrBadQuery) || errors.Is(err, logjar.ErrInvalidArgument) || errors.Is(err, logjar.ErrLimit) {
			code = http.StatusBadRequest
		}
		var le *logjar.Error
		msg := err.Error()
		if errors.As(err, &le) {
			msg = le.Message
		}
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	data := flag.String("data", "logsvc-data", "logjar data directory")
	flag.Parse()
	db, err := logjar.Open(*data, nil)
	if err != nil {
		log.Fatal(err)
	}
	svc := NewService(db)
	srv := &http.Server{Addr: *addr, Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Printf("logsvc: listening on %s, logs in %s", *addr, *data)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
	svc.Close()
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
}
