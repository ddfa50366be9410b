package input

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// loadGit reads a commit of a local git repository with the git command,
// without any network access, and loads the subdir of that tree like a
// directory input.
func loadGit(ctx context.Context, ref Ref, opts Options) (*Input, error) {
	repo := ref.Path
	if !filepath.IsAbs(repo) {
		repo = filepath.Join(opts.WorkDir, repo)
	}
	info, err := os.Stat(repo)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("git input %q: %s does not exist; give the repository's .git directory, e.g. %q", ref.Raw, ref.Path, ".git#branch=main")
		}
		return nil, fmt.Errorf("git input %q: %w", ref.Raw, err)
	}
	if !info.IsDir() && !isGitFile(repo) {
		return nil, fmt.Errorf("git input %q: %s is not a directory", ref.Raw, ref.Path)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("git input %q: the git command is not installed: %w", ref.Raw, err)
	}
	g := &gitRepo{dir: repo}
	rev := "HEAD"
	var candidates []string
	switch {
	case ref.Branch != "":
		candidates = []string{"refs/heads/" + ref.Branch, "refs/remotes/origin/" + ref.Branch}
		rev = ref.Branch
	case ref.Tag != "":
		candidates = []string{"refs/tags/" + ref.Tag, ref.Tag}
		rev = ref.Tag
	case ref.GitRef != "":
		candidates = []string{ref.GitRef}
		rev = ref.GitRef
	default:
		candidates = []string{"HEAD"}
	}
	var commit string
	for _, c := range candidates {
		if strings.HasPrefix(c, "-") {
			continue
		}
		out, err := g.run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", c+"^{commit}")
		if err == nil {
			commit = strings.TrimSpace(string(out))
			break
		}
	}
	if commit == "" {
		if _, err := g.run(ctx, nil, "rev-parse", "--git-dir"); err != nil {
			return nil, fmt.Errorf("git input %q: %s is not a git repository", ref.Raw, ref.Path)
		}
		return nil, fmt.Errorf("git input %q: %q is not a branch, tag or commit of %s", ref.Raw, rev, ref.Path)
	}
	files, err := g.readTree(ctx, commit)
	if err != nil {
		return nil, fmt.Errorf("git input %q: %w", ref.Raw, err)
	}
	t := newMapTree(files)
	inputDir := "."
	if ref.Subdir != "" {
		inputDir = ref.Subdir
		if !t.isDir(inputDir) {
			return nil, fmt.Errorf("git input %q: subdir %q has no .proto files or configuration at %s", ref.Raw, ref.Subdir, commit[:min(12, len(commit))])
		}
	}
	l := &loader{
		tree: t,
		ref:  ref,
		opts: opts,
		display: func(wsRoot string, isWorkspace bool) string {
			if isWorkspace {
				return wsRoot
			}
			return inputDir
		},
		configName: ref.Raw,
	}
	return l.load(ctx, inputDir)
}

// isGitFile reports whether p is a "gitdir: <path>" file, which stands for
// the repository's .git directory in a linked worktree (git worktree add)
// or a submodule; git takes it wherever it takes the directory.
func isGitFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len("gitdir: "))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == "gitdir: "
}

type gitRepo struct {
	dir string
}

func (g *gitRepo) command(ctx context.Context, args ...string) *exec.Cmd {
	var full []string
	if filepath.Base(g.dir) == ".git" || strings.HasSuffix(g.dir, ".git") {
		full = append(full, "--git-dir="+g.dir)
	} else {
		full = append(full, "-C", g.dir)
	}
	full = append(full, "-c", "core.fsmonitor=false")
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_NO_LAZY_FETCH=1",
		"GIT_CONFIG_NOSYSTEM=1",
		"LC_ALL=C",
	)
	return cmd
}

func (g *gitRepo) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := g.command(ctx, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("git %s: %s: %w", args[0], msg, err)
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// readTree returns the .proto files and buf configuration files of commit,
// keyed by their path in the repository.
func (g *gitRepo) readTree(ctx context.Context, commit string) (map[string][]byte, error) {
	out, err := g.run(ctx, nil, "ls-tree", "-r", "-z", "--full-tree", commit)
	if err != nil {
		return nil, err
	}
	type entry struct{ sha, path string }
	var entries []entry
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		tab := bytes.IndexByte(rec, '\t')
		if tab < 0 {
			continue
		}
		meta := strings.Fields(string(rec[:tab]))
		p := string(rec[tab+1:])
		if len(meta) != 3 || meta[1] != "blob" || meta[0] == "120000" {
			continue
		}
		base := path.Base(p)
		if strings.HasSuffix(p, ".proto") || base == "buf.yaml" || base == "buf.work.yaml" {
			entries = append(entries, entry{sha: meta[2], path: p})
		}
	}
	files := map[string][]byte{}
	if len(entries) == 0 {
		return files, nil
	}
	var in bytes.Buffer
	for _, e := range entries {
		in.WriteString(e.sha)
		in.WriteByte('\n')
	}
	cmd := g.command(ctx, "cat-file", "--batch")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	r := bufio.NewReader(stdout)
	var readErr error
	for _, e := range entries {
		header, err := r.ReadString('\n')
		if err != nil {
			readErr = fmt.Errorf("git cat-file: reading %s: %w", e.path, err)
			break
		}
		fields := strings.Fields(header)
		if len(fields) != 3 || fields[1] != "blob" {
			readErr = fmt.Errorf("git cat-file: unexpected answer %q for %s", strings.TrimSpace(header), e.path)
			break
		}
		size, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || size < 0 || size > maxImageSize {
			readErr = fmt.Errorf("git cat-file: bad size in %q for %s", strings.TrimSpace(header), e.path)
			break
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			readErr = fmt.Errorf("git cat-file: reading %s: %w", e.path, err)
			break
		}
		if _, err := r.Discard(1); err != nil {
			readErr = fmt.Errorf("git cat-file: reading %s: %w", e.path, err)
			break
		}
		files[e.path] = data
	}
	_, _ = io.Copy(io.Discard, r)
	if err := cmd.Wait(); err != nil && readErr == nil {
		readErr = fmt.Errorf("git cat-file: %s: %w", strings.TrimSpace(stderr.String()), err)
	}
	if readErr != nil {
		return nil, readErr
	}
	return files, nil
}
