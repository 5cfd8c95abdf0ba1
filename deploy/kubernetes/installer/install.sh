#!/bin/sh
# crisp node installer: puts crispd (and crisp-monitor), the config, the CNI
# conflist and the systemd unit onto a node, and enables and (re)starts
# crisp.service through the node's systemd. Run by the DaemonSet of
# deploy/kubernetes (the node's / is mounted at /host) or by hand.
#
#   install.sh install   [--sleep]           install or upgrade; idempotent
#   install.sh uninstall [--purge] [--sleep] stop, disable and remove crisp
#
# Idempotent: every file is compared by sha256 with what the node has; when
# nothing differs nothing is written and crisp.service is not restarted.
# Upgrades replace files atomically (a running crispd keeps its old binary)
# and restart crisp.service only; its KillMode=process leaves every
# crisp-monitor, and so every container, running. The installer never stops
# a monitor and refuses to restart a unit whose KillMode would.
#
# Environment (defaults in brackets):
#   CRISP_HOST_ROOT     where the node's / is mounted [/host]
#   CRISP_PAYLOAD       what to install: bin/, etc/crisp.json, systemd/crisp.service,
#                       cni/*.conflist [the directory of this script]
#   CRISP_CONFIG_SOURCE the crisp.json to install [$CRISP_PAYLOAD/etc/crisp.json]
#   CRISP_PREFIX        binaries go to $CRISP_PREFIX/bin on the node [/usr/local]
#   CRISP_UNIT_DIR      unit directory on the node [/etc/systemd/system]
#   CRISP_CNI_CONF_DIR  CNI config directory on the node [/etc/cni/net.d]
#   CRISP_INSTALL_CNI   auto: install the conflists only while the node has no other
#                       network config; always; never [auto]
#   CRISP_SYSTEMCTL     how to run the node's systemctl
#                       [nsenter -t 1 -m -u -i -n -p -- systemctl]
#   CRISP_HOST_EXEC     how to run a command on the node, used to try the new crispd
#                       there before it replaces the old one; empty: skip the try
#                       [nsenter -t 1 -m -u -i -n -p --]
#   CRISP_PROC          the node's procfs, to find running monitors [/proc]
set -eu

UNIT=crisp.service
HOST=${CRISP_HOST_ROOT:-/host}
PAYLOAD=${CRISP_PAYLOAD:-$(cd "$(dirname "$0")" && pwd)}
CONFIG_SOURCE=${CRISP_CONFIG_SOURCE:-$PAYLOAD/etc/crisp.json}
PREFIX=${CRISP_PREFIX:-/usr/local}
UNIT_DIR=${CRISP_UNIT_DIR:-/etc/systemd/system}
CNI_CONF_DIR=${CRISP_CNI_CONF_DIR:-/etc/cni/net.d}
INSTALL_CNI=${CRISP_INSTALL_CNI:-auto}
SYSTEMCTL=${CRISP_SYSTEMCTL:-nsenter -t 1 -m -u -i -n -p -- systemctl}
HOST_EXEC=${CRISP_HOST_EXEC-nsenter -t 1 -m -u -i -n -p --}
PROC=${CRISP_PROC:-/proc}

BIN_DIR=$PREFIX/bin
STATE_DIR=/etc/crisp/.installer # on the node: what was installed, with checksums
MANIFEST=$STATE_DIR/manifest

log() { echo "crisp-installer: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

systemctl_() { $SYSTEMCTL "$@"; }

sha() { # sha256 of a file, empty when it does not exist
	if [ -f "$1" ]; then sha256sum "$1" | cut -d' ' -f1; fi
}

usage() {
	echo "usage: $0 install [--sleep] | uninstall [--purge] [--sleep]" >&2
	exit 2
}

# Keeps the DaemonSet's pod alive after the work is done; exits on SIGTERM.
sleep_forever() {
	pid=
	trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 0' TERM INT
	log "done; sleeping until the pod is deleted"
	while :; do
		sleep 3600 >/dev/null 2>&1 &
		pid=$!
		wait $pid || true
	done
}

preconditions() {
	[ "$(id -u)" = 0 ] || die "must run as root: it writes to the node's $BIN_DIR, /etc and" \
		"talks to its systemd (the DaemonSet runs it privileged as user 0)"
	[ -d "$HOST" ] || die "host root $HOST is not a directory (set CRISP_HOST_ROOT)"
	case "$PREFIX$UNIT_DIR$CNI_CONF_DIR" in *'	'* | *' '*) die "paths must not contain blanks" ;; esac
}

lock() {
	mkdir -p "$HOST$STATE_DIR"
	chmod 0700 "$HOST$STATE_DIR"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$HOST$STATE_DIR/lock"
		flock 9
	fi
}

# ---- install -------------------------------------------------------------

# The plan: lines "<kind><TAB><source><TAB><node path><TAB><mode>" of files
# whose content differs from the node's, kinds bin, crispd, config, cni, unit.
plan_add() { # kind source dest mode
	if [ "$(sha "$2")" != "$(sha "$HOST$3")" ] || [ "$(stat -c %a "$HOST$3")" != "${4#0}" ]; then
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$WORK/plan"
	fi
	printf '%s\t%s\n' "$(sha "$2")" "$3" >>"$WORK/manifest"
}

planned() { grep -q "^$1	" "$WORK/plan"; }

# True when a network config in the node's CNI dir is not one of ours.
foreign_network_config() {
	for f in "$HOST$CNI_CONF_DIR"/*.conflist "$HOST$CNI_CONF_DIR"/*.conf "$HOST$CNI_CONF_DIR"/*.json; do
		if [ -e "$f" ] && [ ! -f "$PAYLOAD/cni/$(basename "$f")" ] &&
			! grep -q "	${f#"$HOST"}\$" "$HOST$MANIFEST" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

plan_cni() {
	case "$INSTALL_CNI" in
	never)
		keep_cni_records || true
		return 0
		;;
	always) ;;
	auto)
		if foreign_network_config; then
			log "CNI: $CNI_CONF_DIR has another network config; not installing crisp's"
			if keep_cni_records; then
				log "CNI: warning: crisp's conflist is still there and may come first:" \
					"remove it if the other network should serve new pods"
			fi
			return 0
		fi
		;;
	*) die "CRISP_INSTALL_CNI must be auto, always or never, not '$INSTALL_CNI'" ;;
	esac
	for f in "$PAYLOAD"/cni/*.conflist; do
		if [ -f "$f" ]; then
			plan_add cni "$f" "$CNI_CONF_DIR/$(basename "$f")" 0644
		fi
	done
}

# Conflists installed earlier stay recorded (uninstall removes them) when no
# conflist is installed now. True when there was one.
keep_cni_records() {
	kept=1
	for f in "$PAYLOAD"/cni/*.conflist; do
		if grep "	$CNI_CONF_DIR/$(basename "$f")\$" "$HOST$MANIFEST" >>"$WORK/manifest" 2>/dev/null; then
			kept=0
		fi
	done
	return $kept
}

make_plan() {
	: >"$WORK/plan"
	: >"$WORK/manifest"
	[ -f "$PAYLOAD/bin/crispd" ] || die "no crispd in $PAYLOAD/bin"
	[ -f "$PAYLOAD/systemd/$UNIT" ] || die "no $UNIT in $PAYLOAD/systemd"
	[ -f "$CONFIG_SOURCE" ] || die "no config at $CONFIG_SOURCE"
	# crisp-monitor and any other binary first, crispd last: a crispd never
	# runs against a monitor older than itself
	for f in "$PAYLOAD"/bin/*; do
		if [ -f "$f" ] && [ "$(basename "$f")" != crispd ]; then
			plan_add bin "$f" "$BIN_DIR/$(basename "$f")" 0755
		fi
	done
	plan_add crispd "$PAYLOAD/bin/crispd" "$BIN_DIR/crispd" 0755
	plan_add config "$CONFIG_SOURCE" /etc/crisp/crisp.json 0644
	plan_cni
	# the unit runs the binary where this installer puts it
	sed "s|/usr/local/bin/|$BIN_DIR/|g" "$PAYLOAD/systemd/$UNIT" >"$WORK/$UNIT"
	plan_add unit "$WORK/$UNIT" "$UNIT_DIR/$UNIT" 0644
}

# Copies source next to the node path, then renames it into place: readers and
# a running binary see the old file or the new one, whole.
put_file() { # source node-path mode
	dest=$HOST$2
	mkdir -p "$(dirname "$dest")"
	cp "$1" "$dest.crisp-new"
	chmod "$3" "$dest.crisp-new"
	mv -f "$dest.crisp-new" "$dest"
}

# Runs the crispd about to be installed on the node with the config about to
# be installed (and the node's drop-ins): a binary whose libraries the node
# lacks, or a config it refuses, never replaces a working one.
preflight() {
	[ -n "$HOST_EXEC" ] || return 0
	planned crispd || planned config || return 0
	crispd=$BIN_DIR/crispd
	staged=$STATE_DIR/staged
	rm -rf "$HOST$staged"
	mkdir -p "$HOST$staged" "$HOST$BIN_DIR"
	if planned crispd; then
		crispd=$BIN_DIR/.crispd.crisp-try
		cp "$PAYLOAD/bin/crispd" "$HOST$crispd"
		chmod 0755 "$HOST$crispd"
	fi
	cp "$CONFIG_SOURCE" "$HOST$staged/crisp.json"
	ln -s ../../crisp.d "$HOST$staged/crisp.d" # the node's drop-ins, as crispd will read them
	if ! out=$($HOST_EXEC "$crispd" --config "$staged/crisp.json" config 2>&1 >/dev/null); then
		rm -rf "$HOST$staged" "$HOST$BIN_DIR/.crispd.crisp-try"
		die "the new crispd does not run on this node with the new config; nothing was changed: $out"
	fi
	rm -rf "$HOST$staged" "$HOST$BIN_DIR/.crispd.crisp-try"
}

# Restarting crispd must not take the containers with it.
check_kill_mode() {
	systemctl_ is-active --quiet "$UNIT" || return 0
	mode=$(systemctl_ show --property=KillMode --value "$UNIT")
	[ "$mode" = process ] || die "refusing to restart $UNIT: KillMode=$mode would kill every" \
		"container on this node; remove the override that sets it (systemctl cat $UNIT)"
}

enable_unit() {
	if ! systemctl_ is-enabled --quiet "$UNIT"; then
		systemctl_ enable "$UNIT" || die "cannot enable $UNIT"
	fi
}

do_install() {
	lock
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
	make_plan
	if [ ! -s "$WORK/plan" ]; then
		log "up to date: nothing changed"
		enable_unit
		if ! systemctl_ is-active --quiet "$UNIT"; then
			log "starting $UNIT"
			systemctl_ start "$UNIT" || die "$UNIT did not start: journalctl -u crisp on the node"
		fi
		return 0
	fi
	restart=0
	if planned bin || planned crispd || planned config || planned unit; then
		restart=1
		check_kill_mode
	fi
	preflight
	while IFS='	' read -r kind src dest mode; do
		log "installing $dest ($kind)"
		put_file "$src" "$dest" "$mode"
	done <"$WORK/plan"
	cp "$WORK/manifest" "$HOST$MANIFEST"
	if planned unit; then
		systemctl_ daemon-reload
	fi
	enable_unit
	if [ "$restart" = 1 ]; then
		log "restarting $UNIT (containers keep running)"
		systemctl_ restart "$UNIT" || die "$UNIT did not start: journalctl -u crisp on the node"
	elif ! systemctl_ is-active --quiet "$UNIT"; then
		systemctl_ start "$UNIT" || die "$UNIT did not start: journalctl -u crisp on the node"
	fi
	log "installed"
}

# ---- uninstall -----------------------------------------------------------

count_monitors() {
	n=0
	for comm in "$PROC"/[0-9]*/comm; do
		if [ "$(cat "$comm" 2>/dev/null)" = crisp-monitor ]; then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

remove_installed() {
	if [ -f "$HOST$MANIFEST" ]; then
		while read -r sum path; do
			[ -e "$HOST$path" ] || continue
			if [ "$(sha "$HOST$path")" = "$sum" ]; then
				log "removing $path"
				rm -f "$HOST$path"
			else
				log "keeping $path: changed on the node since it was installed"
			fi
		done <"$HOST$MANIFEST"
	else # installed some other way (make install): the well-known files
		for path in "$BIN_DIR/crispd" "$BIN_DIR/crisp-monitor" "$UNIT_DIR/$UNIT"; do
			if [ -e "$HOST$path" ]; then
				log "removing $path"
				rm -f "$HOST$path"
			fi
		done
	fi
}

do_uninstall() {
	purge=$1
	if [ "$purge" = 1 ]; then
		n=$(count_monitors)
		[ "$n" = 0 ] || die "$n containers still run on this node (crisp-monitor processes):" \
			"drain it and remove its pods (crictl rmp -fa) before --purge, or uninstall without it"
	fi
	lock
	# KillMode=process: this stops crispd alone; containers that still run are
	# left running (drain the node first)
	systemctl_ stop "$UNIT" || log "stop $UNIT failed (not loaded?), going on"
	systemctl_ disable "$UNIT" || log "disable $UNIT failed (not loaded?), going on"
	remove_installed
	systemctl_ daemon-reload
	rm -rf "${HOST:?}$STATE_DIR"
	if [ "$purge" = 1 ]; then
		log "purging /var/lib/crisp and /etc/crisp"
		# their contents: in the uninstall DaemonSet both are mount points
		for dir in "${HOST:?}/var/lib/crisp" "$HOST/etc/crisp"; do
			if [ -d "$dir" ]; then
				find "$dir" -xdev -mindepth 1 -delete
				rmdir "$dir" 2>/dev/null || true
			fi
		done
	else
		log "kept /var/lib/crisp (images) and /etc/crisp/crisp.d; --purge removes them"
	fi
	rmdir "$HOST/etc/crisp" 2>/dev/null || true
	log "uninstalled"
}

# ---- main ----------------------------------------------------------------

[ $# -ge 1 ] || usage
action=$1
shift
sleep_after=0
purge=0
for arg in "$@"; do
	case "$arg" in
	--sleep) sleep_after=1 ;;
	--purge)
		[ "$action" = uninstall ] || usage
		purge=1
		;;
	*) usage ;;
	esac
done
preconditions
case "$action" in
install) do_install ;;
uninstall) do_uninstall "$purge" ;;
*) usage ;;
esac
[ "$sleep_after" = 0 ] || sleep_forever
