package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"homeport/internal/dashboard"
	"homeport/internal/procs"
)

// ErrNotRunning says no daemon of this user answers.
var ErrNotRunning = errors.New("homeport is not running")

// Client talks to this user's daemon with its token.
type Client struct {
	Base  string // http://127.0.0.1:PORT
	Token string
	HTTP  *http.Client
}

// Connect returns a client of the daemon daemon.json names, without asking
// it anything yet; ErrNotRunning when there is no daemon.json.
func Connect() (*Client, *State, error) {
	dir, err := Dir()
	if err != nil {
		return nil, nil, err
	}
	st, err := readState(dir)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		return nil, nil, ErrNotRunning
	}
	tok, err := Token(dir)
	if err != nil {
		return nil, nil, err
	}
	return &Client{Base: "http://127.0.0.1:" + strconv.Itoa(st.Port), Token: tok, HTTP: &http.Client{Timeout: 10 * time.Second}}, st, nil
}

// Find returns the state of this user's running daemon, asked from the
// daemon itself; ErrNotRunning when none answers.
func Find(ctx context.Context) (*State, error) {
	c, st, err := Connect()
	if err != nil {
		return nil, err
	}
	got, err := c.Status(ctx)
	if err != nil {
		if _, perr := procs.Get(st.PID); perr != nil {
			return nil, ErrNotRunning // a stale daemon.json
		}
		return nil, fmt.Errorf("%w: pid %d does not answer on %s: %v", ErrNotRunning, st.PID, c.Base, err)
	}
	return &State{PID: got.PID, Address: got.Address, Port: st.Port, Since: got.Since, Version: got.Version}, nil
}

// APIError is an error answer of the daemon's API: its message and the
// hint it gave, for the CLI to show as they are.
type APIError struct {
	Method, Path string
	Status       int
	Message      string `json:"error"`
	Hint         string `json:"hint"`
}

func (e *APIError) Error() string { return e.Method + " " + e.Path + ": " + e.Message }

// Status asks the daemon how it is.
func (c *Client) Status(ctx context.Context) (*dashboard.Status, error) {
	var st dashboard.Status
	if err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Login asks for a fresh one-time login URL.
func (c *Client) Login(ctx context.Context) (string, error) {
	var a struct {
		URL string `json:"url"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/login", struct{}{}, &a); err != nil {
		return "", err
	}
	return a.URL, nil
}

// Shutdown asks the daemon to stop.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/shutdown", struct{}{}, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set(dashboard.TokenHeader, c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		if e.Message == "" {
			e.Message = resp.Status
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Stop asks this user's daemon to stop and waits until its process is
// gone. It returns the state of the daemon it stopped.
func Stop(ctx context.Context) (*State, error) {
	c, st, err := Connect()
	if err != nil {
		return nil, err
	}
	if err := c.Shutdown(ctx); err != nil {
		if _, perr := procs.Get(st.PID); perr != nil {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("asking pid %d to stop: %w", st.PID, err)
	}
	for {
		_, serr := c.Status(ctx)
		p, perr := procs.Get(st.PID)
		if serr != nil && (perr != nil || p.State == "Z") {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pid %d did not stop: %w", st.PID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
