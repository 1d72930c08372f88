#!/usr/bin/env bash
# chain-host: the entrypoint of the smoke kit's test host image (test/smoke/Dockerfile).
#
#   chain-host [sshd]     set up keys, start `chain watch` when CHAIN_HOST is set, then run sshd in
#                         the foreground (the default command)
#   chain-host CMD ARG..  set up keys, then run CMD as the chain user (e.g. the smoke runner)
#
# Environment (all optional):
#   CHAIN_CONFIG            the ring's config (default /etc/chain/chain.yaml)
#   CHAIN_HOST              this container's name in the ring: `chain watch --host $CHAIN_HOST`
#                           runs beside sshd, as user chain, its pid in /run/chain/watch.pid
#   CHAIN_AUTHORIZED_KEYS   public key line(s) allowed to log in as chain
#   CHAIN_KEYS_DIR          a directory holding the ring's key pair, id_ed25519 and id_ed25519.pub
#                           (default /etc/chain/keys): the private key becomes chain's identity,
#                           the public key is authorized
#   CHAIN_KEYS_GENERATE=1   create that key pair when it is missing (the first container to get
#                           there does; the others wait for it), for a self-contained compose ring
#   CHAIN_KNOWN_HOSTS       names (space or comma separated) that present this image's host key;
#                           written to chain's known_hosts. Containers of one image share the host
#                           key generated when it was built.
set -euo pipefail

CONFIG=${CHAIN_CONFIG:-/etc/chain/chain.yaml}
KEYS=${CHAIN_KEYS_DIR:-/etc/chain/keys}
HOME_DIR=/home/chain
SSH_DIR=$HOME_DIR/.ssh
HOST_KEY=/etc/ssh/ssh_host_ed25519_key

log() { printf 'chain-host: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# prefix of a command run as the chain user, with its own HOME (so "~/.ssh" means /home/chain/.ssh);
# env and setpriv exec, so the pid of the command is the pid the shell started
AS_CHAIN=(env "HOME=$HOME_DIR" USER=chain LOGNAME=chain setpriv --reuid=chain --regid=chain --init-groups --)

[ "$(id -u)" = 0 ] || die "must start as root (it drops to user chain itself)"

install -d -o chain -g chain -m 0700 "$SSH_DIR"
touch "$SSH_DIR/authorized_keys"

authorize() { # authorize "ssh-ed25519 AAAA... comment": once
  local key=$1
  [ -n "$key" ] || return 0
  grep -qxF -- "$key" "$SSH_DIR/authorized_keys" || printf '%s\n' "$key" >>"$SSH_DIR/authorized_keys"
}

# the ring's own key pair, shared by every container through a volume
if [ "${CHAIN_KEYS_GENERATE:-0}" = 1 ]; then
  mkdir -p "$KEYS"
  # the lock is a directory: mkdir is atomic, and id_ed25519.pub appears (by rename) before the
  # lock goes, so whoever takes the lock next sees the pair and does not make a second one
  if [ ! -e "$KEYS/id_ed25519.pub" ] && mkdir "$KEYS/.keygen" 2>/dev/null; then
    if [ ! -e "$KEYS/id_ed25519.pub" ]; then
      ssh-keygen -q -t ed25519 -N '' -C "chain-smoke ring key" -f "$KEYS/.keygen/id_ed25519"
      mv "$KEYS/.keygen/id_ed25519" "$KEYS/id_ed25519"
      mv "$KEYS/.keygen/id_ed25519.pub" "$KEYS/id_ed25519.pub"
      log "made the ring's key pair in $KEYS"
    fi
    rmdir "$KEYS/.keygen"
  fi
  for _ in $(seq 1 120); do
    [ -e "$KEYS/id_ed25519.pub" ] && break
    sleep 0.5
  done
  [ -e "$KEYS/id_ed25519.pub" ] || die "no key pair in $KEYS after 60s (a stale $KEYS/.keygen? remove the keys volume)"
fi
if [ -r "$KEYS/id_ed25519" ] && [ -r "$KEYS/id_ed25519.pub" ]; then
  install -o chain -g chain -m 0600 "$KEYS/id_ed25519" "$SSH_DIR/id_ed25519"
  install -o chain -g chain -m 0644 "$KEYS/id_ed25519.pub" "$SSH_DIR/id_ed25519.pub"
  authorize "$(cat "$KEYS/id_ed25519.pub")"
fi
while IFS= read -r line; do authorize "$line"; done <<<"${CHAIN_AUTHORIZED_KEYS:-}"

# the host key every container of this image presents, under the ring's names
if [ -n "${CHAIN_KNOWN_HOSTS:-}" ]; then
  names=$(tr ' ,' '\n' <<<"$CHAIN_KNOWN_HOSTS" | grep -v '^$' | paste -sd, -)
  printf '%s %s\n' "$names" "$(cut -d' ' -f1,2 "$HOST_KEY.pub")" >"$SSH_DIR/known_hosts"
fi
for f in authorized_keys known_hosts; do [ ! -e "$SSH_DIR/$f" ] || chown chain:chain "$SSH_DIR/$f"; done
chmod 0600 "$SSH_DIR/authorized_keys"

case ${1:-sshd} in
  sshd)
    [ $# -eq 0 ] || shift
    [ -s "$SSH_DIR/authorized_keys" ] || log "warning: no authorized key for chain (CHAIN_AUTHORIZED_KEYS, $KEYS, or --build-arg AUTHORIZED_KEY)"
    install -d -m 0755 /run/sshd
    install -d -o chain -g chain -m 0755 /run/chain
    if [ -n "${CHAIN_HOST:-}" ]; then
      [ -r "$CONFIG" ] || die "CHAIN_HOST=$CHAIN_HOST but no config at $CONFIG (mount the ring's chain.yaml there)"
      # beside sshd, not instead of it: the smoke script stops and starts it over ssh
      # (kill "$(cat /run/chain/watch.pid)"), and the container lives on
      "${AS_CHAIN[@]}" chain --config "$CONFIG" --host "$CHAIN_HOST" --no-progress watch </dev/null &
      echo $! >/run/chain/watch.pid
      log "chain watch --host $CHAIN_HOST started (pid $!)"
    fi
    exec /usr/sbin/sshd -D -e "$@"
    ;;
  *)
    exec "${AS_CHAIN[@]}" "$@"
    ;;
esac
