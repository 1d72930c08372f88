#!/usr/bin/env bash
# smoke.sh: chain's smoke scenario against a ring of hosts reached over SSH.
#
#   1 check     `chain check` exits 0 (every host reachable, host key known, login, SFTP, root writable)
#   2 watch     `chain watch --host NAME` runs on every host (started here, or already running)
#   3 write     a small tree is written on the first host of the ring (files, a link, modes, a big one)
#   4 converge  every host holds an identical copy (polled until a deadline)
#   5 diverge   the daemons are stopped and the hosts changed differently
#   6 repair    `chain repair` exits 0
#   7 verify    every host holds the same tree again, and the newest edits won
#
# Exit status: 0 every step passed; 1 a step failed (the step and the reason are printed, with a
# summary); 2 usage error. Reads nothing from stdin. Run `smoke.sh --help` for the options.
#
# The ring (names, addresses, ports, roots) comes from the config, through `chain check --json`.
# Host-side work (writing, listing, starting and stopping `chain watch`) is one small POSIX sh
# script per action, run through `ssh HOST sh -s`, or with --local through `sh -s` on this machine
# when every root is a local directory (a ring of sshd on loopback). Both modes run the same code.
#
# Everything the scenario writes lives in one directory, <root>/chain-smoke-<id>, removed at the end
# when every step passed (kept after a failure, for a look). `chain repair` reconciles the whole
# root, though: run this against test rings, not against a ring whose hosts differ on purpose.

set -Eeuo pipefail
export LC_ALL=C NO_COLOR=1

usage() {
  cat <<'EOF'
usage: smoke.sh --config FILE [options] [NAME=[USER@]ADDRESS[:PORT] ...]

Runs chain's smoke scenario (check, watch, write, converge, diverge, repair, verify) against the
ring of FILE. NAME=ENDPOINT arguments (or SMOKE_HOSTS="NAME=ENDPOINT ...") override where this
machine reaches a host over SSH; by default it is the address and port of the config.

  --config FILE        the ring's chain.yaml, read here by `chain check` and `chain repair`
                       (env CHAIN_CONFIG)
  --local              every root is a directory on this machine (e.g. sshd on loopback): write,
                       list and run `chain watch` here instead of over ssh
  --watch MODE         start: start `chain watch` on every host and stop it at the end (default)
                       running: it already runs on every host (e.g. a container's entrypoint) and
                       writes its pid to --pidfile; it is stopped for the divergence step and
                       started again at the end
  --pidfile PATH       pid file of `chain watch` on each host, %h = host name; its log goes beside
                       it as *.log when this script starts it (default /tmp/chain-smoke-%h.pid;
                       env SMOKE_PIDFILE)
  --chain CMD          the chain command here (default: chain; env CHAIN_BIN)
  --remote-chain CMD   the chain command on the hosts (default: chain, or --chain with --local;
                       env SMOKE_REMOTE_CHAIN)
  --remote-config PATH the config's path on the hosts (default: --config; env SMOKE_REMOTE_CONFIG)
  --timeout SECONDS    deadline for each wait: daemons ready, convergence (default 60;
                       env SMOKE_TIMEOUT)
  --ssh-user USER      login user (default: ssh's own; env SMOKE_SSH_USER)
  --identity FILE      private key for ssh (env SMOKE_SSH_IDENTITY)
  --known-hosts FILE   known_hosts for ssh; host keys are always checked (env SMOKE_KNOWN_HOSTS)
  --ssh-config FILE    ssh -F FILE (env SMOKE_SSH_CONFIG)
  --ssh-option OPT     ssh -o OPT, repeatable
  --keep               keep <root>/chain-smoke-<id> on every host after a passing run
  -h, --help           this help

examples:
  # three containers of test/smoke/compose.yaml, daemons started by their entrypoint
  smoke.sh --config /etc/chain/chain.yaml --watch running --pidfile /run/chain/watch.pid
  # real hosts, reached through a bastion's names
  smoke.sh --config ./chain.yaml --ssh-user chain --identity ~/.ssh/chain_ed25519 \
    apollo=chain@apollo.test chronos=chain@chronos.test:2222 hermes=hermes.test
  # a ring of sshd on loopback whose roots are local directories
  smoke.sh --local --config /tmp/ring/chain.yaml --chain ./bin/chain --pidfile /tmp/ring/%h.pid
EOF
}

# ---- options ----

CONFIG=${CHAIN_CONFIG:-}
LOCAL=0
WATCH=start
PIDFILE=${SMOKE_PIDFILE:-/tmp/chain-smoke-%h.pid}
CHAIN=${CHAIN_BIN:-chain}
REMOTE_CHAIN=${SMOKE_REMOTE_CHAIN:-}
REMOTE_CONFIG=${SMOKE_REMOTE_CONFIG:-}
TIMEOUT=${SMOKE_TIMEOUT:-60}
SSH_USER=${SMOKE_SSH_USER:-}
IDENTITY=${SMOKE_SSH_IDENTITY:-}
KNOWN_HOSTS=${SMOKE_KNOWN_HOSTS:-}
SSH_CONFIG=${SMOKE_SSH_CONFIG:-}
SSH_EXTRA=()
KEEP=0
OVERRIDES=()
# shellcheck disable=SC2206 # word splitting of SMOKE_HOSTS is the point
[ -z "${SMOKE_HOSTS:-}" ] || OVERRIDES=(${SMOKE_HOSTS})

usage_error() {
  printf 'smoke: %s\n  run "smoke.sh --help" for usage\n' "$1" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  opt=$1
  val=
  case $opt in
    --*=*) val=${opt#*=}; opt=${opt%%=*}; set -- "$opt" "$val" "${@:2}" ;;
  esac
  case $opt in
    --config | --watch | --pidfile | --chain | --remote-chain | --remote-config | --timeout | \
      --ssh-user | --identity | --known-hosts | --ssh-config | --ssh-option)
      [ $# -ge 2 ] || usage_error "$opt needs a value"
      val=$2
      shift 2
      ;;
    *) shift ;;
  esac
  case $opt in
    --config) CONFIG=$val ;;
    --local) LOCAL=1 ;;
    --watch) WATCH=$val ;;
    --pidfile) PIDFILE=$val ;;
    --chain) CHAIN=$val ;;
    --remote-chain) REMOTE_CHAIN=$val ;;
    --remote-config) REMOTE_CONFIG=$val ;;
    --timeout) TIMEOUT=$val ;;
    --ssh-user) SSH_USER=$val ;;
    --identity) IDENTITY=$val ;;
    --known-hosts) KNOWN_HOSTS=$val ;;
    --ssh-config) SSH_CONFIG=$val ;;
    --ssh-option) SSH_EXTRA+=(-o "$val") ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option $opt" ;;
    *=*) OVERRIDES+=("$opt") ;;
    *) usage_error "unexpected argument \"$opt\" (a host endpoint is written NAME=[USER@]ADDRESS[:PORT])" ;;
  esac
done

[ -n "$CONFIG" ] || usage_error "--config FILE is required (or CHAIN_CONFIG)"
[ -r "$CONFIG" ] || usage_error "cannot read the config $CONFIG"
case $WATCH in start | running) ;; *) usage_error "--watch takes start or running, got \"$WATCH\"" ;; esac
case $TIMEOUT in '' | *[!0-9]* | 0) usage_error "--timeout takes a whole number of seconds, got \"$TIMEOUT\"" ;; esac
if ((LOCAL)) && [ ${#OVERRIDES[@]} -gt 0 ]; then usage_error "--local takes no host endpoints (the roots are local directories)"; fi
[ -n "$REMOTE_CHAIN" ] || { if ((LOCAL)); then REMOTE_CHAIN=$CHAIN; else REMOTE_CHAIN=chain; fi; }
[ -n "$REMOTE_CONFIG" ] || REMOTE_CONFIG=$CONFIG
command -v "$CHAIN" >/dev/null 2>&1 || usage_error "no chain command \"$CHAIN\" here (--chain CMD)"
command -v node >/dev/null 2>&1 || usage_error "node is needed here (to read chain check --json)"
((LOCAL)) || command -v ssh >/dev/null 2>&1 || usage_error "ssh is needed here (or --local)"

# ---- output, steps and the summary ----

STEPS=(check watch write converge diverge repair verify)
declare -A STATE=() TOOK=()
CUR=
T_START=${EPOCHREALTIME/./}
T_STEP=$T_START
FAIL_MSG=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/chain-smoke.XXXXXX") || { echo "smoke: cannot make a temporary directory in ${TMPDIR:-/tmp} (set TMPDIR)" >&2; exit 1; }

say() { printf '%s\n' "$*"; }
indent() { sed 's/^/      /'; }
secs() { # microseconds -> "1.2s"
  local us=$1
  printf '%d.%ds' $((us / 1000000)) $((us % 1000000 / 100000))
}
step_no() {
  local i
  for i in "${!STEPS[@]}"; do [ "${STEPS[i]}" != "$1" ] || { echo $((i + 1)); return; }; done
}
begin() { # begin STEP "what it does"
  CUR=$1
  T_STEP=${EPOCHREALTIME/./}
  say "[$(step_no "$CUR")/${#STEPS[@]}] $CUR: $2"
}
ok() { # ok "detail"
  local took=$((${EPOCHREALTIME/./} - T_STEP))
  STATE[$CUR]=ok
  TOOK[$CUR]=$took
  say "[$(step_no "$CUR")/${#STEPS[@]}] $CUR: ok ($(secs "$took"))${1:+ $1}"
  CUR=
}
fail() { # fail REASON [DETAIL...]: the step's FAILED line, the details indented below it; exit 1
  local took=$((${EPOCHREALTIME/./} - T_STEP))
  FAIL_MSG=$1
  shift
  STATE[${CUR:-setup}]=FAILED
  TOOK[${CUR:-setup}]=$took
  say "[$(step_no "$CUR")/${#STEPS[@]}] $CUR: FAILED: $FAIL_MSG"
  local d
  for d in "$@"; do [ -z "$d" ] || printf '%s\n' "$d" | indent; done
  exit 1
}

on_error() { # an unexpected failure of a command: still say in which step
  local rc=$1 line=$2 cmd=$3
  # in a $(...) the caller sees the failure and reports it in the main shell
  [ "$BASHPID" = "$$" ] || exit "$rc"
  trap - ERR
  if [ -n "$CUR" ] && [ -z "$FAIL_MSG" ]; then
    fail "unexpected error (exit $rc) at smoke.sh line $line: $cmd"
  fi
  exit "$rc"
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

summary() {
  local i name n=${#STEPS[@]} passed=0
  say ""
  say "smoke summary: ${#NAMES[@]} hosts (${NAMES[*]:-?}), $( ((LOCAL)) && echo local roots || echo over ssh), config $CONFIG"
  for i in "${!STEPS[@]}"; do
    name=${STEPS[i]}
    local st=${STATE[$name]:-not run} t=
    [ -z "${TOOK[$name]:-}" ] || t=$(secs "${TOOK[$name]}")
    [ "$st" != ok ] || passed=$((passed + 1))
    printf '  %d %-9s %-8s %s\n' $((i + 1)) "$name" "$st" "$t"
  done
  local total
  total=$(secs $((${EPOCHREALTIME/./} - T_START)))
  if [ "$passed" -eq "$n" ]; then
    say "smoke: PASSED: $passed of $n steps in $total"
  else
    local at
    for at in "${STEPS[@]}"; do [ "${STATE[$at]:-}" != FAILED ] || break; done
    say "smoke: FAILED at step $(step_no "$at")/$n ($at): $FAIL_MSG"
  fi
}

# ---- hosts ----

NAMES=()     # ring order
PORTS=()     # where this machine reaches each host over ssh: port
LOGINS=()    # and [USER@]ADDRESS
ROOTS=()     # each host's root (a path on that host)
ID=$(date +%s)-$$
DIR=chain-smoke-$ID
T0=$(($(date +%s) - 3600)) # the tree's mtime: an hour ago, so the edits below can be older or newer

# shell-quote for sh: 'it'\''s'
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
pidfile_of() { printf '%s' "${PIDFILE//%h/${NAMES[$1]}}"; }
logfile_of() {
  local p
  p=$(pidfile_of "$1")
  printf '%s.log' "${p%.pid}"
}

SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o LogLevel=ERROR
  -o ServerAliveInterval=5 -o ServerAliveCountMax=3)
[ -z "$SSH_CONFIG" ] || SSH+=(-F "$SSH_CONFIG")
[ -z "$IDENTITY" ] || SSH+=(-i "$IDENTITY" -o IdentitiesOnly=yes)
[ -z "$KNOWN_HOSTS" ] || SSH+=(-o UserKnownHostsFile="$KNOWN_HOSTS")
[ -z "$SSH_USER" ] || SSH+=(-l "$SSH_USER")
SSH+=("${SSH_EXTRA[@]}")

# on I SCRIPT: run a POSIX sh script on host I (index into NAMES); its stdout/stderr are ours.
# A host that does not answer within the deadline counts as a failure of the script (exit 124).
on() {
  local i=$1 script=$2 limit=$((TIMEOUT + 30))
  if ((LOCAL)); then
    timeout --foreground -k 5 "$limit" sh -s <<<"$script"
  else
    timeout --foreground -k 5 "$limit" "${SSH[@]}" -p "${PORTS[i]}" "${LOGINS[i]}" sh -s <<<"$script"
  fi
}
where() {
  if ((LOCAL)); then printf '%s' "${NAMES[$1]}"; else printf '%s (%s port %s)' "${NAMES[$1]}" "${LOGINS[$1]}" "${PORTS[$1]}"; fi
}

# manifest I: one line per path under <root>/DIR on host I: type, mode, size, whole-second mtime,
# content hash, link target. Identical manifests = identical trees (what chain compares, and more).
manifest() {
  on "$1" "cd $(q "${ROOTS[$1]}/$DIR") 2>/dev/null || { echo '(no $DIR)'; exit 0; }
find . -mindepth 1 -print 2>/dev/null | LC_ALL=C sort | while IFS= read -r p; do
  if [ -L \"\$p\" ]; then printf 'link %s -> %s\n' \"\$p\" \"\$(readlink \"\$p\")\"
  elif [ -d \"\$p\" ]; then printf 'dir  %s %s\n' \"\$(stat -c %a \"\$p\")\" \"\$p\"
  elif [ -f \"\$p\" ]; then printf 'file %s %s %s\n' \"\$(stat -c '%a %s %Y' \"\$p\")\" \"\$(sha256sum <\"\$p\" | cut -c1-16)\" \"\$p\"
  else printf 'other %s\n' \"\$p\"; fi
done 2>/dev/null"
}

# "30 paths (26 files, 3 directories, 1 symlink)" of a manifest
counts() {
  local n f d l
  n=$(grep -c . <<<"$1" || true)
  f=$(grep -c '^file ' <<<"$1" || true)
  d=$(grep -c '^dir ' <<<"$1" || true)
  l=$(grep -c '^link ' <<<"$1" || true)
  printf '%d paths (%d file%s, %d director%s, %d symlink%s)' "$n" "$f" "$(plural "$f" '' s)" "$d" "$(plural "$d" y ies)" "$l" "$(plural "$l" '' s)"
}
plural() { if [ "$1" -eq 1 ]; then printf '%s' "$2"; else printf '%s' "$3"; fi; }

# the diff of two manifests, at most 15 lines
mdiff() { diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^[<>]' | head -n 15 || true; }

# a sh snippet: is pid $pid a live process (not a zombie nobody reaped)?
# shellcheck disable=SC2016 # expanded on the host
ALIVE='alive() { kill -0 "$1" 2>/dev/null || return 1; s=$(sed "s/.*) //" "/proc/$1/stat" 2>/dev/null | cut -c1); [ "$s" != Z ]; }'

start_watch() { # start_watch I
  local pf lf
  pf=$(pidfile_of "$1")
  lf=$(logfile_of "$1")
  on "$1" "$ALIVE
pf=$(q "$pf")
if [ -f \"\$pf\" ] && alive \"\$(cat \"\$pf\")\"; then echo \"chain watch already runs here (pid \$(cat \"\$pf\"), \$pf): use --watch running\"; exit 3; fi
mkdir -p \"\$(dirname \"\$pf\")\" || exit 3
NO_COLOR=1 $(q "$REMOTE_CHAIN") --config $(q "$REMOTE_CONFIG") --host $(q "${NAMES[$1]}") --no-progress watch >$(q "$lf") 2>&1 </dev/null &
echo \$! >\"\$pf\""
}

# ready I: 0 ready, 1 not yet, 4 the daemon is not running (with the reason on stdout)
ready() {
  local pf lf
  pf=$(pidfile_of "$1")
  lf=$(logfile_of "$1")
  on "$1" "$ALIVE
pf=$(q "$pf")
pid=\$(cat \"\$pf\" 2>/dev/null) || { echo \"no pid file \$pf\"; exit 4; }
if ! alive \"\$pid\"; then
  echo \"chain watch (pid \$pid) is not running\"
  [ ! -f $(q "$lf") ] || tail -n 15 $(q "$lf")
  exit 4
fi
NO_COLOR=1 $(q "$REMOTE_CHAIN") --config $(q "$REMOTE_CONFIG") --host $(q "${NAMES[$1]}") status --quiet >/dev/null 2>&1 || exit 1"
}

stop_watch() { # stop_watch I: SIGTERM, then wait for it to finish its batch and exit
  local pf
  pf=$(pidfile_of "$1")
  on "$1" "$ALIVE
pf=$(q "$pf")
pid=\$(cat \"\$pf\" 2>/dev/null) || { echo \"no pid file \$pf: cannot stop chain watch\"; exit 4; }
if alive \"\$pid\"; then
  kill -TERM \"\$pid\" || exit 4
  n=0
  while alive \"\$pid\"; do
    n=\$((n + 1))
    [ \$n -le 300 ] || { echo \"chain watch (pid \$pid) still runs 30s after SIGTERM\"; exit 4; }
    sleep 0.1
  done
fi
rm -f \"\$pf\""
}

log_tail() { # the last lines of the daemon log on host I, when this script started it
  [ "$WATCH" = start ] || return 0
  on "$1" "[ ! -f $(q "$(logfile_of "$1")") ] || tail -n ${2:-12} $(q "$(logfile_of "$1")")" 2>/dev/null || true
}

# ---- cleanup ----

STARTED=() # indexes of hosts where this script started chain watch and has not stopped it
STOPPED=() # indexes of hosts whose already-running chain watch this script stopped
cleanup() {
  local rc=$? i
  trap - ERR
  set +e
  for i in "${STARTED[@]}"; do stop_watch "$i" >/dev/null 2>&1; done
  if [ "$rc" -eq 0 ] && ((!KEEP)) && [ ${#NAMES[@]} -gt 0 ]; then
    for i in "${!NAMES[@]}"; do on "$i" "rm -rf $(q "${ROOTS[i]}/$DIR")" >/dev/null 2>&1; done
  elif [ "$rc" -ne 0 ] && ((WROTE)); then
    say "the scenario's files were kept for a look: <root>/$DIR on every host"
  fi
  if [ ${#STOPPED[@]} -gt 0 ]; then
    # it ran before we came: leave it running again
    for i in "${STOPPED[@]}"; do start_watch "$i" >/dev/null 2>&1 || say "could not start chain watch on ${NAMES[i]} again"; done
    say "chain watch started again on $(for i in "${STOPPED[@]}"; do printf '%s ' "${NAMES[i]}"; done)(it was stopped for the divergence step)"
  fi
  rm -rf "$WORK"
  [ "$rc" -eq 2 ] || summary
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the steps ----

step_check() {
  begin check "chain check (config $CONFIG)"
  local rc=0 parsed
  "$CHAIN" --config "$CONFIG" --no-progress check --json >"$WORK/check.json" 2>"$WORK/check.err" || rc=$?
  # host, address, port, root, and what failed, one host a line, tab-separated
  # shellcheck disable=SC2016 # JavaScript
  if ! parsed=$(node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const steps = ["reachable", "hostKey", "login", "sftp", "rootExists", "writable"];
    for (const h of j.hosts) {
      const bad = steps.find((s) => h[s] !== "ok");
      console.log([h.host, h.address, h.port, h.root, bad ? `${bad} FAILED: ${(h.error ?? "").replace(/\s+/g, " ")}` : "ok"].join("\t"));
    }' "$WORK/check.json" 2>/dev/null); then
    fail "chain check exited $rc and printed no report" "$(cat "$WORK/check.err")"
  fi
  local name addr port root verdict lines=() bad=0
  while IFS=$'\t' read -r name addr port root verdict; do
    NAMES+=("$name")
    PORTS+=("$port")
    ROOTS+=("$root")
    LOGINS+=("$addr")
    lines+=("$name $addr:$port $root: $verdict")
    [ "$verdict" = ok ] || bad=1
  done <<<"$parsed"
  if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ]; then fail "chain check exited $rc" "${lines[@]}" "$(cat "$WORK/check.err")"; fi
  [ ${#NAMES[@]} -ge 2 ] || fail "the ring has ${#NAMES[@]} hosts"
  # where this machine reaches them, when that is not the config's address
  local o n found i ep
  for o in "${OVERRIDES[@]}"; do
    n=${o%%=*}
    ep=${o#*=}
    found=
    for i in "${!NAMES[@]}"; do [ "${NAMES[i]}" != "$n" ] || found=$i; done
    [ -n "$found" ] || fail "host $n (from $o) is not in the ring ${NAMES[*]}"
    local user='' host=$ep port=${PORTS[found]}
    case $host in *@*) user=${host%%@*}@; host=${host#*@} ;; esac
    case $host in
      \[*\]:*) port=${host##*]:}; host=${host#[}; host=${host%%]*} ;;
      \[*\]) host=${host#[}; host=${host%]} ;;
      *:*:*) ;; # a bare IPv6 address
      *:*) port=${host##*:}; host=${host%:*} ;;
    esac
    PORTS[found]=$port
    LOGINS[found]=$user$host
  done
  local l
  for l in "${lines[@]}"; do say "      $l"; done
  ok "${#NAMES[@]} hosts: ring ${NAMES[*]} → ${NAMES[0]}"
}

step_watch() {
  local i out rc pending
  if [ "$WATCH" = start ]; then
    begin watch "start chain watch --host NAME on every host"
    for i in "${!NAMES[@]}"; do
      out=$(start_watch "$i" 2>&1) || fail "could not start chain watch on $(where "$i")" "$out"
      STARTED+=("$i")
    done
  else
    begin watch "chain watch already runs on every host (pid files $PIDFILE)"
  fi
  # ready: its pid is alive and `chain status` on that host exits 0
  local deadline=$((SECONDS + TIMEOUT))
  pending=("${!NAMES[@]}")
  while [ ${#pending[@]} -gt 0 ]; do
    local still=()
    for i in "${pending[@]}"; do
      rc=0
      out=$(ready "$i" 2>&1) || rc=$?
      case $rc in
        0) ;;
        1) still+=("$i") ;;
        *) fail "chain watch is not running on $(where "$i")" "$out" ;;
      esac
    done
    pending=("${still[@]}")
    [ ${#pending[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      local who=() tails=()
      for i in "${pending[@]}"; do who+=("${NAMES[i]}"); tails+=("${NAMES[i]}:" "$(log_tail "$i")"); done
      fail "chain status did not report a running daemon on ${who[*]} within ${TIMEOUT}s" "${tails[@]}"
    fi
    sleep 0.5
  done
  ok "chain watch runs on ${NAMES[*]}"
}

WROTE=0  # something was written under <root>/$DIR
WRITER=0 # the host the first changes are made on
REF=     # its manifest after writing
step_write() {
  begin write "a tree on ${NAMES[WRITER]} under <root>/$DIR"
  local out
  WROTE=1
  out=$(on "$WRITER" "set -e
d=$(q "${ROOTS[WRITER]}/$DIR")
mkdir -p \"\$d/nested/deeper\" \"\$d/empty\"
i=1
while [ \$i -le 20 ]; do printf 'smoke file %s of $ID\n' \$i >\"\$d/nested/f\$i.txt\"; i=\$((i + 1)); done
printf 'deep\n' >\"\$d/nested/deeper/deep.txt\"
printf 'a: as written on ${NAMES[WRITER]}\n' >\"\$d/a.txt\"
printf 'b: as written on ${NAMES[WRITER]}\n' >\"\$d/b.txt\"
touch -d @$T0 \"\$d/a.txt\" \"\$d/b.txt\"
printf 'only for the owner\n' >\"\$d/secret.txt\"
chmod 600 \"\$d/secret.txt\"
printf 'spaces\n' >\"\$d/name with spaces.txt\"
head -c 1048576 /dev/urandom >\"\$d/big.bin\"
ln -s nested/f1.txt \"\$d/link-to-f1\"" 2>&1) || fail "could not write on $(where "$WRITER")" "$out"
  REF=$(manifest "$WRITER") || fail "could not list <root>/$DIR on $(where "$WRITER")"
  ok "$(counts "$REF")"
}

# converge_to I...: wait until every host's manifest equals that of host I
converge_to() {
  local ref=$1 want i m deadline=$((SECONDS + TIMEOUT))
  want=$(manifest "$ref") || fail "could not list <root>/$DIR on $(where "$ref")"
  while :; do
    local differ=()
    for i in "${!NAMES[@]}"; do
      [ "$i" -ne "$ref" ] || continue
      m=$(manifest "$i") || m="(could not list)"
      [ "$m" = "$want" ] || differ+=("$i")
    done
    [ ${#differ[@]} -gt 0 ] || return 0
    if [ $SECONDS -ge $deadline ]; then
      local details=() who=()
      for i in "${differ[@]}"; do
        who+=("${NAMES[i]}")
        details+=("${NAMES[i]} against ${NAMES[ref]} (< ${NAMES[ref]}, > ${NAMES[i]}):" "$(mdiff "$want" "$(manifest "$i" || true)")")
      done
      for i in "${!NAMES[@]}"; do [ "$WATCH" != start ] || details+=("chain watch log on ${NAMES[i]}:" "$(log_tail "$i")"); done
      fail "${who[*]} still differ from ${NAMES[ref]} after ${TIMEOUT}s" "${details[@]}"
    fi
    sleep 0.5
  done
}

step_converge() {
  begin converge "every host gets the same tree (deadline ${TIMEOUT}s)"
  converge_to "$WRITER"
  ok "$(counts "$REF") identical on ${NAMES[*]}"
}

step_diverge() {
  begin diverge "stop chain watch everywhere, then change the hosts differently"
  local i out n=${#NAMES[@]} last=$((${#NAMES[@]} - 1))
  for i in "${!NAMES[@]}"; do
    out=$(stop_watch "$i" 2>&1) || fail "could not stop chain watch on $(where "$i")" "$out"
    if [ "$WATCH" = start ]; then
      local keep=() j
      for j in "${STARTED[@]}"; do [ "$j" = "$i" ] || keep+=("$j"); done
      STARTED=("${keep[@]}")
    else
      STOPPED+=("$i")
    fi
  done
  # every host: a file of its own; the first: the newest a.txt; the second: the newest b.txt;
  # the last: a deleted file and, on a ring of three or more, older edits of a.txt and b.txt
  for i in "${!NAMES[@]}"; do
    local s
    s="set -e
d=$(q "${ROOTS[i]}/$DIR")
mkdir -p \"\$d/only-on/${NAMES[i]}\"
printf 'made on ${NAMES[i]} while the ring was down\n' >\"\$d/only-on/${NAMES[i]}/file.txt\""
    [ "$i" -ne 0 ] || s+="
printf 'a: edited on ${NAMES[i]} (newest)\n' >\"\$d/a.txt\"; touch -d @$((T0 + 200)) \"\$d/a.txt\""
    [ "$i" -ne 1 ] || s+="
printf 'b: edited on ${NAMES[i]} (newest)\n' >\"\$d/b.txt\"; touch -d @$((T0 + 200)) \"\$d/b.txt\""
    [ "$i" -ne "$last" ] || s+="
rm \"\$d/nested/f2.txt\""
    if [ "$i" -eq "$last" ] && [ "$n" -gt 2 ]; then
      s+="
printf 'a: an older edit on ${NAMES[i]}, loses\n' >\"\$d/a.txt\"; touch -d @$((T0 + 100)) \"\$d/a.txt\"
printf 'b: an older edit on ${NAMES[i]}, loses\n' >\"\$d/b.txt\"; touch -d @$((T0 + 100)) \"\$d/b.txt\""
    fi
    out=$(on "$i" "$s" 2>&1) || fail "could not change <root>/$DIR on $(where "$i")" "$out"
  done
  # with every daemon stopped, nothing may have travelled: the first two hosts must now differ
  local m0 m1
  m0=$(manifest 0)
  m1=$(manifest 1)
  [ "$m0" != "$m1" ] || fail "${NAMES[0]} and ${NAMES[1]} are still identical: is a chain watch still running?"
  ok "chain watch stopped on ${NAMES[*]}; $(mdiff "$m0" "$m1" | grep -c .) lines of ${NAMES[0]}'s and ${NAMES[1]}'s listings differ"
}

step_repair() {
  begin repair "chain repair (the whole ring: the newest version of every path everywhere)"
  local rc=0
  "$CHAIN" --config "$CONFIG" --no-progress repair >"$WORK/repair.out" 2>&1 || rc=$?
  indent <"$WORK/repair.out"
  [ "$rc" -eq 0 ] || fail "chain repair exited $rc"
  ok "$(tail -n 1 "$WORK/repair.out")"
}

step_verify() {
  begin verify "every host holds the same tree, and the newest edits won"
  local i m want last=$((${#NAMES[@]} - 1))
  want=$(manifest 0)
  for i in "${!NAMES[@]}"; do
    m=$(manifest "$i") || fail "could not list <root>/$DIR on $(where "$i")"
    [ "$m" = "$want" ] || fail "${NAMES[i]} differs from ${NAMES[0]} after chain repair (< ${NAMES[0]}, > ${NAMES[i]})" "$(mdiff "$want" "$m")"
  done
  # the contents that must have won, read on the host whose own edits lost
  local expect="a: edited on ${NAMES[0]} (newest)
b: edited on ${NAMES[1]} (newest)
smoke file 2 of $ID"
  for i in "${!NAMES[@]}"; do expect+="
made on ${NAMES[i]} while the ring was down"; done
  local files="a.txt b.txt nested/f2.txt" got
  for i in "${!NAMES[@]}"; do files+=" only-on/${NAMES[i]}/file.txt"; done
  got=$(on "$last" "cd $(q "${ROOTS[last]}/$DIR") && cat $files" 2>&1) || fail "on ${NAMES[last]}: $got"
  [ "$got" = "$expect" ] || fail "on ${NAMES[last]}, not the versions that should have won" "expected:" "$expect" "found:" "$got"
  ok "$(counts "$want") identical on ${NAMES[*]}; the newest a.txt and b.txt won, the deleted file is back"
}

say "smoke: chain's smoke scenario, $( ((LOCAL)) && echo 'local roots' || echo 'over ssh'), chain watch: $WATCH, run $ID"
step_check
step_watch
step_write
step_converge
step_diverge
step_repair
step_verify
