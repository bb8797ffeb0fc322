#!/bin/sh
# Checks supervisor-dashboard.json: valid JSON, every panel on the ${datasource} variable, unique
# panel ids, and every PromQL expression in it (panel targets, and the selectors inside the
# label_values() variable queries) parsed by promtool. With --url, each expression is also run
# against that Prometheus (/api/v1/query) and must evaluate without error; the number of series
# each returns is printed.
#
#   contrib/grafana/check-dashboard.sh [--url http://127.0.0.1:9090] [DASHBOARD.json]
#
# Grafana macros are replaced before checking: $__rate_interval, $__interval, $__range -> 1m/1m/1h,
# any other $var / ${var} -> .* (the dashboard only uses them inside =~ matchers).
# Exit 0 all good, 1 a problem (each printed), 2 usage or a missing tool.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
url=""
dashboard="$here/supervisor-dashboard.json"
while [ $# -gt 0 ]; do
    case "$1" in
        --url) [ $# -ge 2 ] || { echo "usage: $0 [--url URL] [DASHBOARD.json]" >&2; exit 2; }; url=$2; shift 2 ;;
        --url=*) url=${1#--url=}; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "usage: $0 [--url URL] [DASHBOARD.json]" >&2; exit 2 ;;
        *) dashboard=$1; shift ;;
    esac
done
command -v python3 >/dev/null || { echo "check-dashboard: python3 is needed" >&2; exit 2; }
command -v promtool >/dev/null || { echo "check-dashboard: promtool is needed (Debian package prometheus)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 -m json.tool "$dashboard" >/dev/null || { echo "check-dashboard: $dashboard is not valid JSON" >&2; exit 1; }

# Writes $tmp/rules.yml (one recording rule per expression) and $tmp/exprs.json.
python3 - "$dashboard" "$tmp" <<'PY'
import json, re, sys
path, tmp = sys.argv[1], sys.argv[2]
d = json.load(open(path))
problems, exprs = [], []

def macros(e):
    e = e.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?", ".*", e)

def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))

ids = set()
for p in walk(d.get("panels", [])):
    where = f'panel {p.get("id")} "{p.get("title")}"'
    if p.get("id") in ids: problems.append(f"{where}: duplicate id")
    ids.add(p.get("id"))
    if p.get("type") == "row": continue
    if (p.get("datasource") or {}).get("uid") != "${datasource}":
        problems.append(f"{where}: datasource is not the ${{datasource}} variable")
    if not p.get("targets"): problems.append(f"{where}: no query")
    for t in p.get("targets", []):
        if not t.get("expr", "").strip(): problems.append(f"{where} target {t.get('refId')}: empty expr")
        else: exprs.append((f"{where} target {t.get('refId')}", t["expr"]))
for v in d.get("templating", {}).get("list", []):
    if v.get("type") != "query": continue
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", q, re.S)
    if m: exprs.append((f'variable ${v["name"]}', m.group(1)))
    elif q.strip(): exprs.append((f'variable ${v["name"]}', q))
names = [v.get("name") for v in d.get("templating", {}).get("list", [])]
for need in ("datasource", "unit"):
    if need not in names: problems.append(f"no ${need} variable")

with open(f"{tmp}/rules.yml", "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (where, e) in enumerate(exprs):
        f.write(f"      # {where}\n      - record: dashboard:expr_{i}\n        expr: {json.dumps(macros(e))}\n")
json.dump([{"where": w, "expr": e, "query": macros(e)} for w, e in exprs], open(f"{tmp}/exprs.json", "w"))
for p in problems: print(f"check-dashboard: {p}", file=sys.stderr)
print(f"{len(exprs)} expressions")
sys.exit(1 if problems else 0)
PY

if ! promtool check rules "$tmp/rules.yml" >"$tmp/promtool.out" 2>&1; then
    cat "$tmp/promtool.out" >&2
    # Name the panel behind each rejected dashboard:expr_N.
    python3 - "$tmp/exprs.json" "$tmp/promtool.out" <<'PY' >&2
import json, re, sys
exprs = json.load(open(sys.argv[1]))
for n in sorted({int(n) for n in re.findall(r"dashboard:expr_(\d+)", open(sys.argv[2]).read())}):
    print(f'check-dashboard: {exprs[n]["where"]}: promtool rejects\n     {exprs[n]["expr"]}')
PY
    exit 1
fi
echo "promtool: every expression parses"

[ -n "$url" ] || exit 0
python3 - "$url" "$tmp/exprs.json" <<'PY'
import json, sys, urllib.parse, urllib.request
url, exprs = sys.argv[1].rstrip("/"), json.load(open(sys.argv[2]))
bad = 0
for x in exprs:
    body = urllib.parse.urlencode({"query": x["query"]}).encode()
    try:
        with urllib.request.urlopen(url + "/api/v1/query", body, timeout=30) as r: res = json.load(r)
    except urllib.error.HTTPError as e:
        res = json.load(e) if e.headers.get("Content-Type", "").startswith("application/json") else {"status": "error", "error": str(e)}
    except OSError as e:
        print(f"check-dashboard: cannot query {url}: {e}", file=sys.stderr); sys.exit(1)
    if res.get("status") != "success":
        bad += 1
        print(f'FAIL {x["where"]}: {res.get("errorType", "")} {res.get("error", "")}\n     {x["query"]}', file=sys.stderr)
    else:
        print(f'ok   {len(res["data"]["result"]):3d} series  {x["where"]}')
sys.exit(1 if bad else 0)
PY
