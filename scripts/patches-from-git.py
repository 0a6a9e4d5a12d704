#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""patches-from-git.py GITDIR - rewrite patches/*.patch from a git tree.

For development: apply build/series (make series) with git am onto the
base in a worktree of build/linux, change the commits there (git commit
--fixup=X, git rebase -i --autosquash base), then run this from the
repository root with the worktree as GITDIR.  Its commits base..HEAD must
be the entries of patches/series, in order.  Each patch keeps its header
(From, Subject, message) and gets the commit's diff of the files that
are not overlay files; every overlay file must be one the entry names.
Copy the overlay files from GITDIR first (the script checks they match),
then run make series and checkpatch.
"""
import subprocess
import sys


def main():
    gitdir = sys.argv[1]

    def git(*a):
        return subprocess.run(["git", "-C", gitdir] + list(a), capture_output=True,
                              text=True, check=True).stdout

    entries = []
    for line in open("patches/series").read().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t":
            entries[-1][1].extend(line.split())
        else:
            f = line.split()
            entries.append([f[0], f[1:]])
    commits = git("rev-list", "--reverse", "base..HEAD").split()
    if len(commits) != len(entries):
        sys.exit("%d commits, %d entries in patches/series" % (len(commits), len(entries)))
    overlay = set(f for e in entries for f in e[1])
    bad = [f for f in overlay if git("show", "HEAD:" + f) != open(f).read()]
    if bad:
        sys.exit("overlay files differ from %s: %s" % (gitdir, " ".join(bad)))
    for (name, files), c in zip(entries, commits):
        path = "patches/" + name
        old = open(path).read()
        hdr = old[:old.index("\n---\n") + 5]
        changed = git("diff", "--name-only", c + "~1", c).split()
        upstream = [f for f in changed if f not in overlay]
        if set(changed) - set(upstream) != set(files):
            sys.exit("%s: commit %s changes overlay files %s, the entry names %s" % (
                name, c, sorted(set(changed) - set(upstream)), sorted(files)))
        diff = git("diff", "--no-renames", c + "~1", c, "--", *upstream) if upstream else ""
        new = hdr + ("\n" + diff if diff else "")
        if new != old:
            open(path, "w").write(new)
            print("updated", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
