package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

func init() {
	register(newPutCmd)
	register(newGetCmd)
	register(newDelCmd)
	register(newLsCmd)
	register(newStatusCmd)
}

// defaultClientURL is the router address the client commands use when neither --url nor
// TORUA_URL says otherwise: where `torua local` serves it.
const defaultClientURL = "http://127.0.0.1:8080"

// clientFlags are the flags every command that talks to a router has.
type clientFlags struct {
	url     string
	timeout time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	def := os.Getenv("TORUA_URL")
	if def == "" {
		def = defaultClientURL
	}
	cmd.Flags().StringVar(&f.url, "url", def, "router URL (env TORUA_URL)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "bound on each request (0: none)")
}

func (f *clientFlags) client(opts ...client.Option) (*client.Client, error) {
	return client.New(f.url, append([]client.Option{client.WithTimeout(f.timeout)}, opts...)...)
}

// keyError words err of the command verb on key for a person: a missing key, a router that
// cannot be reached, or the router's own answer.
func keyError(verb, key string, err error) error {
	switch {
	case errors.Is(err, client.ErrNotFound):
		return fmt.Errorf("key %q not found", key)
	case errors.Is(err, client.ErrUnreachable):
		return err // "cannot reach router at ...: connection refused" says it all
	default:
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
}

// parseIfMatch parses --if-match: a revision, optionally quoted as in an ETag, or "*".
func parseIfMatch(s string) (client.PutOption, error) {
	if s == "*" {
		return client.IfExists(), nil
	}
	rev, err := strconv.ParseUint(strings.Trim(s, `"`), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("--if-match %q: want a revision number or *", s)
	}
	return client.IfMatch(rev), nil
}

func newPutCmd() *cobra.Command {
	var (
		cf       clientFlags
		file     string
		ifMatch  string
		ifAbsent bool
		etag     bool
	)
	cmd := &cobra.Command{
		Use:   "put KEY [VALUE]",
		Short: "Store a value under a key",
		Long: `Store a value under a key. The value is VALUE, the contents of --file, or standard input
when neither is given. --if-match and --if-absent make the write conditional: it fails,
changing nothing, when the key is not at that revision or already exists.`,
		Example: `  torua put greeting hello
  torua put config.json --file ./config.json
  echo -n 42 | torua put counters/visits --if-match 7`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			var opts []client.PutOption
			if ifMatch != "" && ifAbsent {
				return errors.New("--if-match and --if-absent exclude each other")
			}
			if ifMatch != "" {
				opt, err := parseIfMatch(ifMatch)
				if err != nil {
					return err
				}
				opts = append(opts, opt)
			}
			if ifAbsent {
				opts = append(opts, client.IfAbsent())
			}
			var value []byte
			var err error
			switch {
			case len(args) == 2 && file != "":
				return errors.New("give the value as an argument or with --file, not both")
			case len(args) == 2:
				value = []byte(args[1])
			case file != "" && file != "-":
				if value, err = os.ReadFile(file); err != nil {
					return fmt.Errorf("read value: %w", err)
				}
			default:
				if value, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("read value from standard input: %w", err)
				}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			rev, err := c.Put(cmd.Context(), key, value, opts...)
			if err != nil {
				return keyError("put", key, err)
			}
			if etag {
				fmt.Fprintln(cmd.ErrOrStderr(), rev)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the value from this file (- for standard input)")
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "write only if the key is at this revision (* for: if it exists)")
	cmd.Flags().BoolVar(&ifAbsent, "if-absent", false, "write only if the key does not exist")
	cmd.Flags().BoolVar(&etag, "etag", false, "print the new revision to standard error")
	return cmd
}

func newGetCmd() *cobra.Command {
	var (
		cf    clientFlags
		etag  bool
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the value of a key",
		Long: `Print the value of a key to standard output, byte for byte (no newline is added).
--etag prints its revision to standard error, for a later put --if-match.`,
		Example: `  torua get greeting
  torua get config.json > config.json
  torua get counters/visits --etag`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			var opts []client.GetOption
			if stale {
				opts = append(opts, client.Stale())
			}
			value, rev, err := c.Get(cmd.Context(), key, opts...)
			if err != nil {
				return keyError("get", key, err)
			}
			if _, err := cmd.OutOrStdout().Write(value); err != nil {
				return err
			}
			if etag {
				fmt.Fprintln(cmd.ErrOrStderr(), rev)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&etag, "etag", false, "print the key's revision to standard error")
	cmd.Flags().BoolVar(&stale, "stale", false, "let any replica answer (faster; may miss the latest writes)")
	return cmd
}

func newDelCmd() *cobra.Command {
	var (
		cf      clientFlags
		ifMatch string
	)
	cmd := &cobra.Command{
		Use:     "del KEY",
		Aliases: []string{"delete", "rm"},
		Short:   "Delete a key",
		Example: `  torua del greeting
  torua del counters/visits --if-match 8`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			var opts []client.PutOption
			if ifMatch != "" {
				opt, err := parseIfMatch(ifMatch)
				if err != nil {
					return err
				}
				opts = append(opts, opt)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Delete(cmd.Context(), key, opts...); err != nil {
				return keyError("delete", key, err)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "delete only if the key is at this revision")
	return cmd
}

func newLsCmd() *cobra.Command {
	var (
		cf     clientFlags
		prefix string
		after  string
		limit  int
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List keys in order",
		Long: `List keys in ascending byte order, one per line. Keys with control characters or invalid
UTF-8 are printed Go-quoted. Without --all one page of --limit keys is listed, and when
there are more, the --after value for the next page is printed to standard error.`,
		Example: `  torua ls --prefix users/
  torua ls --all | wc -l`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			out := cmd.OutOrStdout()
			if all {
				for key, err := range c.ListAll(cmd.Context(), prefix, limit) {
					if err != nil {
						return listError(err)
					}
					if key > after {
						fmt.Fprintln(out, printableKey(key))
					}
				}
				return nil
			}
			keys, next, err := c.List(cmd.Context(), prefix, after, limit)
			if err != nil {
				return listError(err)
			}
			for _, key := range keys {
				fmt.Fprintln(out, printableKey(key))
			}
			if next != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more keys follow: use --all, or --after %s for the next page\n", quoteArg(next))
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVarP(&prefix, "prefix", "p", "", "list only keys that start with this")
	cmd.Flags().StringVar(&after, "after", "", "list only keys after this one (the previous page's last key)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 100, "keys per page (1..10000)")
	cmd.Flags().BoolVar(&all, "all", false, "list every key, page after page")
	return cmd
}

func listError(err error) error {
	if errors.Is(err, client.ErrUnreachable) {
		return err
	}
	return fmt.Errorf("list keys: %w", err)
}

// printableKey returns key as it is when it prints safely on one line, Go-quoted otherwise.
func printableKey(key string) string {
	for _, r := range key {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(key)
		}
	}
	return key
}

// quoteArg quotes s for a POSIX shell.
func quoteArg(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newStatusCmd() *cobra.Command {
	var (
		cf      clientFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes and shards as the router sees them",
		Long: `Show the router's shard map, every node with its reachability, the map version it holds,
the shards it hosts and their keys, then every shard with its replicas, leader and keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			info, err := c.Cluster(cmd.Context())
			if err != nil {
				if errors.Is(err, client.ErrUnreachable) {
					return err
				}
				return fmt.Errorf("cluster status: %w", err)
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return writeClusterStatus(cmd.OutOrStdout(), info)
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the router's answer as JSON")
	return cmd
}

// writeClusterStatus writes the node table and the shard table of info.
func writeClusterStatus(w io.Writer, info *client.ClusterInfo) error {
	m := info.Map
	if m == nil {
		_, err := fmt.Fprintln(w, "The router has no shard map yet.")
		return err
	}
	fmt.Fprintf(w, "cluster %q: shard map version %d, %d shards, replication factor %d\n\n",
		m.Cluster, m.Version, m.Shards, m.ReplicationFactor)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tAPI\tSTATE\tREACHABLE\tMAP\tSHARDS\tKEYS\tERROR")
	// replicas[shard] lists what each reporting node says of its replica of the shard.
	type replica struct {
		node string
		st   shardmap.ShardStatus
	}
	replicas := map[int][]replica{}
	for _, n := range info.Nodes {
		reachable, mapVersion, shards, keys := "no", "-", "-", "-"
		if n.Reachable {
			reachable = "yes"
		}
		if s := n.Status; s != nil {
			mapVersion = strconv.FormatUint(s.MapVersion, 10)
			if s.MapVersion != m.Version {
				mapVersion += " (stale)"
			}
			shards = strconv.Itoa(len(s.Shards))
			keys = strconv.FormatInt(n.Keys(), 10)
			for _, st := range s.Shards {
				replicas[st.Shard] = append(replicas[st.Shard], replica{node: n.ID, st: st})
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.API, n.State, reachable, mapVersion, shards, keys, n.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tREPLICAS\tLEADER\tTERM\tVOTERS\tLEARNERS (applied/commit)\tKEYS\tPLACEMENT")
	inPlace := 0
	for _, a := range m.Assignments {
		leader, term, voters, learners, keys, placement := "-", "-", "-", "-", "-", "no leader"
		reports := replicas[a.Shard]
		if i := slices.IndexFunc(reports, func(r replica) bool { return r.st.Role == shardmap.RoleLeader }); i >= 0 {
			st := reports[i].st
			leader, keys = reports[i].node, strconv.FormatInt(st.Keys, 10)
			term, voters = strconv.FormatUint(st.Term, 10), strings.Join(st.Voters, ",")
			var ls []string
			for _, id := range st.Learners {
				applied := "?"
				if j := slices.IndexFunc(reports, func(r replica) bool { return r.node == id }); j >= 0 {
					applied = strconv.FormatUint(reports[j].st.AppliedIndex, 10)
				}
				ls = append(ls, fmt.Sprintf("%s (%s/%d)", id, applied, st.CommitIndex))
			}
			if len(ls) > 0 {
				learners = strings.Join(ls, ",")
			}
			placement = "moving"
			if st.InPlace(a.Replicas) {
				placement = "in place"
				inPlace++
			}
		} else if len(reports) > 0 {
			// No leader reported: show what a follower believes (unconfirmed) and the
			// largest key count, the least behind replica's.
			var most int64
			for _, r := range reports {
				if r.st.Leader != "" {
					leader = r.st.Leader + "?"
				}
				most = max(most, r.st.Keys)
			}
			keys = strconv.FormatInt(most, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Shard, strings.Join(a.Replicas, ","), leader, term, voters, learners, keys, placement)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d shards in place (led, with the map's replicas as voters and no learners)\n", inPlace, m.Shards)
	return err
}
