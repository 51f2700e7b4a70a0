#!/bin/sh
# check_layers.sh — checks that the sources under src/ include only what the layer table allows.
#
#   cmake/check_layers.sh [ROOT]      (ROOT: the source tree, default: this script's parent folder)
#
# The table is ROOT/cmake/layers.txt: one module (a folder of src/) a line, lowest layer first, with its
# interface headers and the modules it may include, which must all be on earlier lines (so the
# dependencies point down and cannot form a cycle). For every #include "..." in src/*/*.[ch] that names a
# header of another module, the check fails when
#   - that module is not among those the including module may include (a backward include: it sits
#     above, or beside it without leave), or
#   - the header is not one of that module's interface headers (reaching into its internals).
# It also fails when a folder of src/ has no line in the table, and when the table drawn in
# ROOT/docs/ARCHITECTURE.md (between <!-- layers:begin --> and <!-- layers:end -->) differs from
# layers.txt. Public headers (include/asyncheck*.h) may be included from anywhere.
# Exit status 0 when everything holds, 1 with one line per violation on stderr. POSIX sh and awk only.

set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
table="$root/cmake/layers.txt"
doc="$root/docs/ARCHITECTURE.md"
[ -f "$table" ] || { echo "check_layers: no layer table at $table" >&2; exit 1; }
[ -d "$root/src" ] || { echo "check_layers: no src/ under $root" >&2; exit 1; }

cd "$root" || exit 1
files=$(find src -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
[ -f "docs/ARCHITECTURE.md" ] || doc=""

printf '%s\n' "$files" | LC_ALL=C awk -v table="cmake/layers.txt" -v doc="${doc:+docs/ARCHITECTURE.md}" '
function fail(msg) { print msg > "/dev/stderr"; bad = 1 }
# "a/b/../c/./d.h" -> "a/c/d.h"
function normalise(p,    n, parts, out, i, k) {
    n = split(p, parts, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "" || parts[i] == ".") continue
        if (parts[i] == ".." && k > 0 && out[k] != "..") { k--; continue }
        out[++k] = parts[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
function module_of(path,    parts) { split(path, parts, "/"); return parts[2] }
function header_of(path,    n, parts) { n = split(path, parts, "/"); return n == 3 ? parts[3] : "" }
function strip(s) { gsub(/[` \t]/, "", s); if (s == "—" || s == "") s = "-"; return s }
function listing(m,    s) { s = allowed_list[m]; gsub(/,/, ", ", s); return s == "-" ? "nothing" : s }
BEGIN {
    # ---- the table ----
    nmod = 0
    while ((getline line < table) > 0) {
        lineno++
        sub(/#.*/, "", line)
        if (line ~ /^[ \t]*$/) continue
        nf = split(line, f, /[ \t]+/)
        if (f[1] == "") { for (i = 1; i < nf; i++) f[i] = f[i + 1]; nf-- }
        if (nf != 3) { fail(table ":" lineno ": expected three columns (module, interface, may include)"); continue }
        m = f[1]
        if (m in rank) { fail(table ":" lineno ": module " m " is listed twice"); continue }
        rank[m] = ++nmod
        order[nmod] = m
        iface_list[m] = f[2]
        allowed_list[m] = f[3]
        if (f[2] != "-") { n = split(f[2], h, ","); for (i = 1; i <= n; i++) iface[m, h[i]] = 1 }
        if (f[3] != "-") {
            n = split(f[3], d, ",")
            for (i = 1; i <= n; i++) {
                if (!(d[i] in rank))
                    fail(table ":" lineno ": " m " may include " d[i] ", which is not on an earlier line (dependencies point down only)")
                allowed[m, d[i]] = 1
            }
        }
    }
    close(table)
    if (nmod == 0) fail(table ": no modules")
}
{ exists[$0] = 1; list[++nfiles] = $0 }
END {
    for (fi = 1; fi <= nfiles; fi++) {
        file = list[fi]
        m = module_of(file)
        if (!(m in rank)) {
            if (!(m in unlisted)) fail(file ": src/" m "/ is not in " table " (give the module a layer)")
            unlisted[m] = 1
            continue
        }
        dir = file; sub(/\/[^\/]*$/, "", dir)
        ln = 0
        while ((getline line < file) > 0) {
            ln++
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
            inc = line; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
            target = normalise(dir "/" inc)
            if (!(target in exists)) target = normalise("src/" inc)
            if (!(target in exists)) continue # a public header (include/) or a system one
            n = module_of(target)
            if (n == m) continue
            if (!((m, n) in allowed)) {
                where = (n in rank) ? (rank[n] > rank[m] ? n " is above " m : n " is not below " m) : n " is not in the table"
                fail(file ":" ln ": #include \"" inc "\": " m " may not include " n " (" where " in " table "; " m " may include " listing(m) ")")
            } else if (!((n, header_of(target)) in iface)) {
                fail(file ":" ln ": #include \"" inc "\": " target " is internal to " n " (its interface: " (iface_list[n] == "-" ? "none" : iface_list[n]) ")")
            }
        }
        close(file)
    }
    # ---- the table drawn in the architecture document ----
    if (doc != "") {
        inside = 0; k = 0; seen = 0
        while ((getline line < doc) > 0) {
            if (line ~ /<!-- layers:begin -->/) { inside = 1; seen = 1; continue }
            if (line ~ /<!-- layers:end -->/) { inside = 0; continue }
            if (!inside || line !~ /^\|/ || line ~ /^\|[- |]*\|$/) continue
            n = split(line, c, "|")
            mod = strip(c[2])
            if (mod == "module") continue
            k++
            want = (k <= nmod) ? order[k] : "(nothing)"
            got = mod "  " strip(c[3]) "  " strip(c[4])
            expect = want "  " iface_list[want] "  " allowed_list[want]
            if (got != expect) fail(doc ": layer table row " k " says \"" got "\", " table " says \"" (k <= nmod ? expect : "(no row)") "\"")
        }
        close(doc)
        if (!seen) fail(doc ": no layer table (<!-- layers:begin --> ... <!-- layers:end -->)")
        else if (k < nmod) fail(doc ": the layer table has " k " rows, " table " has " nmod)
    }
    exit bad
}'
