#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into docs/PERFORMANCE.md (on stdout).

usage: report.py META_TSV RESULTS_TSV STORMS_JSONL

META_TSV:     key<TAB>value lines (machine, versions, settings).
RESULTS_TSV:  section target round rps p50_ms p99_ms non2xx socket_errors other_cpu_pct
              proxy_cpu_us_per_request upstream_cpu_us_per_request
              redis_commands aside_cpu_us_per_request (Redis's; for
              nginx+auth_request, its doorman's)
STORMS_JSONL: one {"section", "round", "stats"} object per login storm.
Python standard library only.
"""

import json
import statistics
import sys
from collections import defaultdict


def load(meta_path, results_path, storms_path):
    meta = {}
    with open(meta_path, encoding="utf-8") as lines:
        for line in lines:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    runs = defaultdict(list)  # (section, target) -> [row, ...]
    with open(results_path, encoding="utf-8") as lines:
        for line in lines:
            section, target, rnd, rps, p50, p99, bad, errs, other, cpu, up, cmds, rcpu = line.split("\t")
            runs[(section, target)].append({
                "round": int(rnd), "rps": float(rps), "p50": float(p50), "p99": float(p99),
                "bad": int(bad), "errs": int(errs), "other": float(other),
                "cpu": float(cpu), "up": float(up), "cmds": int(cmds), "rcpu": float(rcpu),
            })
    storms = defaultdict(list)
    with open(storms_path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                storms[record["section"]].append(record["stats"])
    return meta, runs, storms


def med(rows, key):
    return statistics.median(row[key] for row in rows) if rows else float("nan")


def ms(value):
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "n/a"


TARGETS = ("direct", "nginx", "doorman", "doorman-redis")
# Shown beside them when measured: nginx asking doorman (forward-auth),
# Caddy `reverse_proxy` and the floor.
AUTH_REQUEST = "nginx+auth_request"
# The same nginx config asking nginx's own `return 200`: the ceiling.
AUTH_REQUEST_200 = "nginx+auth_request(200)"
OTHERS = (AUTH_REQUEST, AUTH_REQUEST_200, "caddy", "floor")
REDIS_TARGET = 0.05  # issue 7: doorman-redis req/s within 5% of doorman's
AUTH_REQUEST_TARGET = 0.8  # issue 14: nginx+auth_request ≥ 0.8× nginx req/s


def auth_request_vs_nginx(w, rows_a, rows_n, what, rows_z=()):
    """The nginx+auth_request vs nginx line, with issue 14's goal, and the
    ceiling the same config reaches asking nginx's `return 200`."""
    if not rows_a or not rows_n or not med(rows_n, "rps"):
        return
    rps = med(rows_a, "rps") / med(rows_n, "rps")
    w(f"**nginx+auth_request vs nginx, {what}:** req/s {rps:.2f}×, "
      f"p50 {ratio(med(rows_a, 'p50'), med(rows_n, 'p50'))}, "
      f"p99 {ratio(med(rows_a, 'p99'), med(rows_n, 'p99'))}, "
      f"CPU per request {ratio(med(rows_a, 'cpu'), med(rows_n, 'cpu'))} (nginx and its doorman "
      f"together, against nginx alone; {med(rows_a, 'cpu'):.1f} µs, of which doorman's "
      f"{med(rows_a, 'rcpu'):.1f} µs and nginx's {med(rows_a, 'cpu') - med(rows_a, 'rcpu'):.1f} µs, "
      f"against nginx alone's {med(rows_n, 'cpu'):.1f} µs). Goal (issue 14): forward-auth keeps at least "
      f"{AUTH_REQUEST_TARGET:.1f}× of nginx's req/s: **{'met' if rps >= AUTH_REQUEST_TARGET else 'not met'}**.")
    w("")
    if rows_z:
        ceiling = med(rows_z, "rps") / med(rows_n, "rps")
        w(f"**The ceiling:** the same nginx config asking an auth server that costs next to "
          f"nothing (nginx's own `return 200`) reaches {ceiling:.2f}× of nginx alone, at "
          f"{med(rows_z, 'cpu'):.1f} µs of CPU per request: that is the subrequest's own price "
          f"on this machine. doorman keeps {rps / ceiling:.2f}× of that ceiling.")
        w("")


def redis_vs_memory(w, rows_r, rows_m, what, duration, paced=False):
    """The doorman-redis vs doorman (memory) lines; at full speed, with the
    5% throughput target (paced runs have their rate set by the pacing)."""
    if not rows_r or not rows_m:
        return
    rps = med(rows_r, "rps") / med(rows_m, "rps") if med(rows_m, "rps") else float("nan")
    # Paired by round: the two doormans ran back to back in each round.
    mem = {r["round"]: r for r in rows_m}
    paired = [(r["round"], r["rps"] / mem[r["round"]]["rps"]) for r in rows_r
              if r["round"] in mem and mem[r["round"]]["rps"]]
    head = (f"**doorman-redis vs doorman (memory store), {what}:** "
            f"p50 {ratio(med(rows_r, 'p50'), med(rows_m, 'p50'))}, "
            f"p99 {ratio(med(rows_r, 'p99'), med(rows_m, 'p99'))}, "
            f"proxy CPU per request {ratio(med(rows_r, 'cpu'), med(rows_m, 'cpu'))}")
    if paced:
        w(head + " (req/s is set by the pacing here, so it is not compared).")
    else:
        met = rps >= 1 - REDIS_TARGET
        w(head.replace(":** ", f":** req/s {rps:.3f}× ({(rps - 1) * 100:+.1f}%), ", 1) + ". "
          f"Target (issue 7): authenticated req/s within {REDIS_TARGET:.0%} of the memory store "
          f"(≥ {1 - REDIS_TARGET:.2f}×): **{'met' if met else 'not met'}**.")
        if paired:
            w("")
            pm = statistics.median(x for _, x in paired)
            w(f"Round by round (the two doormans run back to back, which goes first alternating), "
              f"doorman-redis / doorman req/s: "
              f"{', '.join(f'{x:.3f}' for _, x in sorted(paired))} (median {pm:.3f}"
              f"{'' if (pm >= 1 - REDIS_TARGET) == met else ', which disagrees with the verdict above: read it as within the noise'}).")
    cmds = [r["cmds"] for r in rows_r]
    requests = med(rows_r, "rps") * duration  # per run, roughly
    counted = f"{min(cmds)}" if min(cmds) == max(cmds) else f"{min(cmds)}–{max(cmds)}"
    w("")
    w(f"Redis during these doorman-redis runs: {counted} command(s) per run "
      f"(`INFO stats` `total_commands_processed` before and after, our own reads excluded) "
      f"for ~{requests:,.0f} requests per run, and {med(rows_r, 'rcpu'):.2f} µs of "
      f"redis-server CPU per request (median; its idle housekeeping)"
      + (": the authenticated hot path does not touch Redis." if max(cmds) * 1000 < requests else
         f": **{max(cmds) / requests:.3f} commands per request, so the hot path does reach Redis**."))
    w("")


def main():
    meta, runs, storms = load(*sys.argv[1:4])
    out = []
    w = out.append

    w("# Performance")
    w("")
    w("<!-- Generated by bench/run.sh; edit the script, not this file. -->")
    w("")
    w(f"Measured {meta['date']} with `{meta['command']}` "
      f"({int(meta['elapsed']) // 60} min {int(meta['elapsed']) % 60} s of measuring).")
    w("")
    w("## Machine and versions")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {meta['cpu']}, {meta['nproc']} cores (`nproc`) |")
    w(f"| memory | {meta['memory']} |")
    w(f"| kernel | {meta['kernel']} |")
    w(f"| doorman | {meta['doorman']} (release build, {meta['rustc']}) |")
    w(f"| nginx | {meta['nginx']} |")
    if meta.get("redis"):
        w(f"| redis | {meta['redis']} |")
    if meta.get("caddy"):
        w(f"| caddy | {meta['caddy']} |")
    w(f"| wrk | {meta['wrk']} |")
    w(f"| python | {meta['python']} (webhook receiver and login storm) |")
    w(f"| load average at the end | {meta['loadavg']} |")
    w("")
    w("Everything ran on this one machine over 127.0.0.1: the load generator, the "
      "upstream, the proxy under test and (in the storm runs) the login flood all "
      "share the same cores.")
    w("")

    w("## Setup")
    w("")
    w(f"- **upstream**: nginx (`worker_processes auto`, `access_log off`) serving a 1 KiB static file.")
    w("- **direct**: wrk straight to the upstream.")
    w("- **nginx**: a second nginx, `proxy_pass` to an `upstream {}` block with `keepalive 64`, "
      "`proxy_http_version 1.1`, `proxy_set_header Connection \"\"`.")
    w("- **caddy**: Caddy (Debian package) `reverse_proxy` to the upstream, admin endpoint and "
      "automatic HTTPS off.")
    w("- **floor**: `bench/floor`, a bare reverse proxy on doorman's own stack (hyper 1, "
      "hyper-util's pooled client, one single-threaded tokio runtime per core, as doorman), "
      "with no auth and no header rewrites: doorman − floor is doorman's own work, "
      "floor − nginx belongs to the stack.")
    w("- **doorman**: `doorman serve` (release build, `log.level: warn`, `store: { kind: memory }`) "
      "with a fully signed-in session cookie obtained through the real flow (password, SMS code "
      "via the `webhook` provider to a local receiver, code). Each doorman run signs in afresh so "
      "the cookie is under a minute old and is not re-issued. Default limits, except that the "
      "send caps are raised and failed sign-ins never delay or lock (`limits.failures` and "
      "`client_failures`: `delay: 0s`, high `lock_after`/`per_hour`), since the bench signs the "
      "same user in dozens of times and the login storm must cost one argon2 check per attempt; "
      "none of this is on the authenticated path.")
    if meta.get("auth_request") == "1":
        w("- **nginx+auth_request**: forward-auth as users deploy it: the shipped "
          "`examples/nginx/app.conf` (its `auth_request` to doorman's `GET {prefix}/auth`, "
          "every `proxy_set_header` of the example) with only its addresses changed and its "
          "two `upstream {}` pools sized as the nginx target's (`keepalive 64`, "
          "`keepalive_requests 1000000`). It asks a third doorman, configured as the first but "
          "for `trusted_proxies: [\"127.0.0.1/32\"]`, then proxies to the upstream itself. "
          "The session is signed in through nginx, afresh before each run. Its *proxy CPU* is "
          "nginx's and that doorman's together.")
        w("- **nginx+auth_request(200)**: the same config, asking a `server { location / "
          "{ return 200; } }` of its own nginx instead of doorman: what the subrequest costs "
          "nginx by itself, the ceiling of any auth server behind this config. Its *proxy CPU* "
          "is that nginx's (answering both).")
    w("- **doorman-redis**: a second doorman, configured identically but for "
      "`store: { kind: redis, url: \"redis://127.0.0.1:PORT/0\", key_prefix: \"doorman-bench:\" }`, "
      "on its own `redis-server` (`--save \"\" --appendonly no`, loopback). It signs in "
      "through Redis (challenges, counters); an authenticated request only checks the in-memory "
      "revocation set, which Redis pub/sub keeps current. The storm and stale-cookie sections "
      "run on the memory doorman only.")
    w(f"- **load**: `wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s --latency` "
      "with keep-alive and the same `Cookie:` header for every target. Both nginx servers have "
      "`keepalive_requests` raised so no target reconnects mid-run.")
    w(f"- **rounds**: {meta['rounds']}, each running direct, nginx, "
      f"{'nginx+auth_request, ' if meta.get('auth_request') == '1' else ''}caddy, floor, "
      "then doorman and doorman-redis "
      "(which of the two goes first alternates by round); the "
      "numbers below are medians over rounds (p50/p99 are wrk's per-run percentiles, "
      "then the median across runs).")
    w("")

    # ------------------------------------------------------------ main table
    w("## Authenticated GET of a 1 KiB file")
    w("")
    w("| target | req/s (median) | req/s (min–max) | p50 ms | p99 ms | proxy CPU µs/req | upstream CPU µs/req | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    main_rows = {t: runs.get(("main", t), []) for t in TARGETS}
    shown = dict(main_rows)
    shown.update({t: runs.get(("main", t), []) for t in OTHERS})
    for target, rows in shown.items():
        if not rows:
            continue
        errors = sum(r["bad"] + r["errs"] for r in rows)
        cpu = "–" if target == "direct" else f"{med(rows, 'cpu'):.1f}"
        w(f"| {target} | {med(rows, 'rps'):,.0f} | {min(r['rps'] for r in rows):,.0f}–"
          f"{max(r['rps'] for r in rows):,.0f} | {ms(med(rows, 'p50'))} | {ms(med(rows, 'p99'))} "
          f"| {cpu} | {med(rows, 'up'):.1f} | {errors} |")
    w("")
    d, n, g, r = (main_rows[t] for t in TARGETS)
    if d and n and g:
        w("| ratio | req/s | p50 | p99 | proxy CPU per request |")
        w("|---|---:|---:|---:|---:|")
        pairs = [("doorman / nginx", g, n), ("doorman / direct", g, d), ("nginx / direct", n, d)]
        c, f, a = shown["caddy"], shown["floor"], shown[AUTH_REQUEST]
        if a:
            pairs = [(f"**{AUTH_REQUEST} / nginx**", a, n), (f"{AUTH_REQUEST} / doorman", a, g)] + pairs
            if shown[AUTH_REQUEST_200]:
                pairs = [(f"{AUTH_REQUEST} / {AUTH_REQUEST_200}", a, shown[AUTH_REQUEST_200])] + pairs
        if f:
            pairs += [("doorman / floor", g, f), ("floor / nginx", f, n)]
        if c:
            pairs += [("doorman / caddy", g, c)]
        if r:
            pairs = [("**doorman-redis / doorman**", r, g), ("doorman-redis / nginx", r, n)] + pairs
        for label, a, b in pairs:
            cpu = ratio(med(a, "cpu"), med(b, "cpu")) if b is not d else "–"
            w(f"| {label} | {ratio(med(a, 'rps'), med(b, 'rps'))} | {ratio(med(a, 'p50'), med(b, 'p50'))} "
              f"| {ratio(med(a, 'p99'), med(b, 'p99'))} | {cpu} |")
        w("")
        w("*proxy CPU µs/req* is the user + system CPU time the proxy's processes used during "
          "the run (from `/proc/PID/stat`) divided by the requests wrk completed. It is less "
          "sensitive than req/s to how the two cores were shared between wrk, upstream and proxy, "
          "so it is the steadier measure of each proxy's own cost (it still rises somewhat when "
          "throughput drops, as fewer requests share each wake-up).")
        w("")
        redis_vs_memory(w, r, g, f"full speed, median of {len(r)} rounds", float(meta["duration"]))
        auth_request_vs_nginx(w, shown[AUTH_REQUEST], n, f"full speed, median of {len(shown[AUTH_REQUEST])} rounds",
                              shown[AUTH_REQUEST_200])
    all_main = [r for rows in main_rows.values() for r in rows]
    if all_main:
        noisy = sum(1 for r in all_main if r["other"] > 5)
        w(f"Other processes used a median {statistics.median(r['other'] for r in all_main):.0f}% "
          f"of the machine's CPU during these runs ({noisy} of {len(all_main)} runs above 5%).")
        w("")

    # ------------------------------------------------------------ paced
    paced = {t: runs.get(("paced", t), []) for t in TARGETS + ("floor", AUTH_REQUEST)}
    for optional in ("doorman-redis", "floor", AUTH_REQUEST):
        if not paced[optional]:
            del paced[optional]
    if all(paced.values()):
        w("## Latency at a fixed moderate rate")
        w("")
        w(f"The same {len(paced)} targets with each of the {meta['connections']} connections waiting "
          f"{meta['paced_delay_ms']} ms between requests (a wrk `delay()` script; the wait is not "
          f"counted as latency), so the offered rate stays well below every target's capacity. "
          f"Median of {meta['paced_rounds']} round(s). Unlike the full-speed runs above, where "
          f"latency is mostly time spent queueing behind other requests and waiting for a core, "
          f"this shows the latency each hop adds.")
        w("")
        w("| target | req/s | p50 ms | p99 ms | proxy CPU µs/req |")
        w("|---|---:|---:|---:|---:|")
        for target, rows in paced.items():
            cpu = "–" if target == "direct" else f"{med(rows, 'cpu'):.1f}"
            w(f"| {target} | {med(rows, 'rps'):,.0f} | {ms(med(rows, 'p50'))} | {ms(med(rows, 'p99'))} | {cpu} |")
        w("")
        d, n, g = (paced[t] for t in ("direct", "nginx", "doorman"))
        r = paced.get("doorman-redis", [])
        w("| ratio | p50 | p99 | added p50 (ms) | added p99 (ms) |")
        w("|---|---:|---:|---:|---:|")
        pairs = [("doorman / nginx", g, n), ("doorman / direct", g, d), ("nginx / direct", n, d)]
        if r:
            pairs = [("**doorman-redis / doorman**", r, g)] + pairs
        for label, a, b in pairs:
            w(f"| {label} | {ratio(med(a, 'p50'), med(b, 'p50'))} | {ratio(med(a, 'p99'), med(b, 'p99'))} "
              f"| {med(a, 'p50') - med(b, 'p50'):+.2f} | {med(a, 'p99') - med(b, 'p99'):+.2f} |")
        w("")
        if paced.get(AUTH_REQUEST):
            a = paced[AUTH_REQUEST]
            w(f"nginx+auth_request vs nginx, paced: p50 {ratio(med(a, 'p50'), med(n, 'p50'))} "
              f"({med(a, 'p50') - med(n, 'p50'):+.2f} ms), p99 {ratio(med(a, 'p99'), med(n, 'p99'))} "
              f"({med(a, 'p99') - med(n, 'p99'):+.2f} ms): the latency the `auth_request` "
              f"round trip to doorman adds.")
            w("")
        if r:
            redis_vs_memory(w, r, g, f"paced, median of {len(r)} round(s)", float(meta["duration"]), paced=True)

    # ------------------------------------------------------------ storm
    if any(s.startswith("storm-") for s, _ in runs):
        w("## Login storm")
        w("")
        w(f"The same wrk run on doorman's authenticated path, without and with "
          f"{meta['storm_concurrency']} concurrent wrong-password `POST {{prefix}}/login` "
          f"requests fired back to back (each costs one argon2id verification; a wrong password "
          f"costs the same as a right one). doorman's default `limits.concurrent_password_checks` "
          f"here is {meta['password_checks']} (half the cores). Two load shapes:")
        w("")
        w(f"- **saturated**: plain wrk, every connection sends its next request as soon as the "
          f"last one is answered, so the CPU is already fully used before the storm starts.")
        w(f"- **paced**: each connection waits {meta['paced_delay_ms']} ms between requests "
          f"(a wrk `delay()` script; the wait is not counted as latency), so the offered load "
          f"sits below capacity and the p99 shows interference rather than queueing.")
        w("")
        w("The control: the same wrk run on *nginx* `proxy_pass`, which serves none of the logins, "
          "without and with the same storm on doorman. What the storm does to nginx's p99 is what "
          "it costs every process on these two cores (the argon2 checks keep one of them busy); "
          "what doorman's p99 rises beyond that is its own.")
        w("")
        w("| load | run | req/s | p50 ms | p99 ms | p99 ratio (storm / baseline) | logins/s | login p50 ms | login p99 ms |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        verdicts = []
        for shape in ("saturated", "paced"):
            base = runs.get((f"storm-{shape}", "baseline"), [])
            storm = runs.get((f"storm-{shape}", "storm"), [])
            if not base or not storm:
                continue
            records = storms.get(f"storm-{shape}", [])

            def login(key, fmt):
                values = [s[key] for s in records]
                return format(statistics.median(values), fmt) if values else "n/a"
            r = med(storm, "p99") / med(base, "p99") if med(base, "p99") else float("nan")
            w(f"| {shape} | baseline | {med(base, 'rps'):,.0f} | {ms(med(base, 'p50'))} | {ms(med(base, 'p99'))} | | | | |")
            w(f"| {shape} | storm | {med(storm, 'rps'):,.0f} | {ms(med(storm, 'p50'))} | {ms(med(storm, 'p99'))} "
              f"| **{r:.2f}×** | {login('per_second', '.1f')} | {login('p50_ms', ',.0f')} | {login('p99_ms', ',.0f')} |")
            nbase = runs.get((f"storm-{shape}", "nginx-baseline"), [])
            nstorm = runs.get((f"storm-{shape}", "nginx-storm"), [])
            nr = None
            if nbase and nstorm and med(nbase, "p99"):
                nr = med(nstorm, "p99") / med(nbase, "p99")
                w(f"| {shape} | nginx, baseline | {med(nbase, 'rps'):,.0f} | {ms(med(nbase, 'p50'))} "
                  f"| {ms(med(nbase, 'p99'))} | | | | |")
                w(f"| {shape} | nginx, storm on doorman | {med(nstorm, 'rps'):,.0f} | {ms(med(nstorm, 'p50'))} "
                  f"| {ms(med(nstorm, 'p99'))} | {nr:.2f}× | | | |")
            verdicts.append((shape, r, nr))
        w("")
        for shape, r, nr in verdicts:
            control = ""
            if nr:
                control = (f"; nginx's, which serves none of the logins, {nr:.2f}× under the same storm, "
                           f"so doorman's p99 rose {r / nr:.2f}× as much as the machine's")
            w(f"- {shape}: doorman's p99 under the storm is {r:.2f}× the baseline "
              f"({'within' if r < 2 else 'over'} the < 2× target){control}.")
        statuses = defaultdict(int)
        for records in storms.values():
            for record in records:
                for status, count in record["statuses"].items():
                    statuses[status] += count
        w(f"- Login answers during the storms: "
          f"{', '.join(f'{count} × {status}' for status, count in sorted(statuses.items()))} "
          f"(all should be 401: wrong password). Login latency is mostly waiting in line for a "
          f"password check: {meta['storm_concurrency']} attempts are always outstanding, and a real "
          f"user signing in during such a flood waits about as long.")
        w("")

    # ------------------------------------------------------------ stale cookie
    fresh, stale = runs.get(("cookie", "fresh"), []), runs.get(("cookie", "stale"), [])
    if fresh and stale:
        w("## Cookie older than a minute")
        w("")
        w("doorman slides the idle timeout by re-issuing the session cookie once it is a minute "
          "old. A client that does not store cookies (wrk here, many scripts) keeps sending the "
          "old one, so doorman encrypts a new cookie and adds `Set-Cookie` to every response.")
        w("")
        w("| cookie | req/s | p50 ms | p99 ms | doorman CPU µs/req |")
        w("|---|---:|---:|---:|---:|")
        for label, rows in (("fresh (< 1 min)", fresh), ("stale (> 1 min)", stale)):
            w(f"| {label} | {med(rows, 'rps'):,.0f} | {ms(med(rows, 'p50'))} | {ms(med(rows, 'p99'))} "
              f"| {med(rows, 'cpu'):.1f} |")
        w("")
        w(f"stale / fresh: {ratio(med(stale, 'rps'), med(fresh, 'rps'))} req/s, "
          f"{ratio(med(stale, 'p99'), med(fresh, 'p99'))} p99, "
          f"{ratio(med(stale, 'cpu'), med(fresh, 'cpu'))} CPU per request.")
        w("")

    # ------------------------------------------------------------ raw data
    w("## Every run")
    w("")
    w("*other CPU* is the share of the whole machine's CPU time during the run that went to "
      "processes other than wrk, the nginx servers, the doormans, Caddy, the floor, "
      "redis-server and the storm client (someone "
      "compiling on the same machine, say). Runs with more than a few percent are suspect. "
      f"A run above {meta['max_other_cpu']}% was repeated (up to {meta['retries']} time(s)) and "
      f"only the last attempt is listed; {meta['repeated']} run(s) were repeated this time. "
      "*proxy CPU* of doorman in the storm runs includes the argon2 work. *Redis cmds* is "
      "the number of commands redis-server processed during a doorman-redis run.")
    w("")
    w("| section | target | round | req/s | p50 ms | p99 ms | proxy CPU µs/req | Redis cmds | non-2xx | socket errors | other CPU |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = ["main", "paced", "storm-saturated", "storm-paced", "cookie"]
    for (section, target), rows in sorted(runs.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99)):
        for r in rows:
            cpu = f"{r['cpu']:.1f}" if r["cpu"] else "–"
            cmds = str(r["cmds"]) if target == "doorman-redis" else "–"
            w(f"| {section} | {target} | {r['round']} | {r['rps']:,.0f} | {ms(r['p50'])} | {ms(r['p99'])} "
              f"| {cpu} | {cmds} | {r['bad']} | {r['errs']} | {r['other']:.0f}% |")
    w("")

    # ------------------------------------------------------------ reading
    w("## How to read this")
    w("")
    w("These are loopback numbers on a small machine where wrk, the upstream and the proxy "
      "compete for the same cores, so absolute req/s say little about production; the "
      "**ratios** between targets measured in the same run are the useful part. "
      "*direct* is the ceiling (no proxy hop at all); *nginx* is what a well-tuned C proxy "
      "costs for the same extra hop; doorman additionally decrypts and checks the session "
      "cookie (AES-256-GCM), strips and adds identity and forwarding headers. "
      "A doorman/nginx req/s ratio near 1 means doorman's own work is small next to the cost "
      "of proxying. *doorman-redis* does the same per request as *doorman* (the store only "
      "matters for signing in and out), so their ratio should be 1 within the noise. With a closed-loop load generator like wrk at full speed, latency is mostly "
      "queueing (connections ÷ throughput) and, on two shared cores, waiting to be scheduled: "
      "p50 follows req/s and p99 jumps between runs (compare the rounds in the table of every "
      "run), so read the full-speed p99 ratios with care. The *paced* tables are the better "
      "measure of latency a hop adds, and of whether password hashing disturbs proxied "
      "requests. *proxy CPU µs/req* is higher in the paced runs than at full speed because at "
      "a low rate each wake-up (epoll, syscalls, scheduling) serves fewer requests. Runs vary by several "
      "percent between rounds (see the min–max column and the table of every run); "
      "differences smaller than that are noise. Regenerate with the command at the top.")
    w("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
