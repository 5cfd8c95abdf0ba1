/* crisp-monitor: the process that owns one container (conmon's role). Started by crispd through
 * crisp_monitor_spawn (monitor/spawn.h) as `crisp-monitor --dir <dir>`:
 *
 * Setup: writes <dir>/monitor.pid, reads <dir>/spec.json (monitor/spec.h), opens the CRI log
 * (monitor/crilog.h), makes the stdio (pipes for stdout and stderr, or a pty; a stdin pipe
 * whose write end it keeps when spec.stdin, else /dev/null), creates the container (blocked
 * before execve: runtime/container.h), opens a pidfd on it, reads the OOM-kill counter
 * baseline, listens on <dir>/monitor.sock (monitor/control.h; protocol in monitor/client.h) and
 * <dir>/attach.sock (monitor/attach.h),
 * writes <dir>/pid, then reports "ok <pid>\n" or "error <code> <message>\n" on report_fd and
 * closes it. After a setup failure everything made is undone and 1 is returned.
 *
 * Then a single-threaded poll loop: output to the CRI log; control requests; SIGCHLD through
 * a signalfd (every child is reaped, the container's status kept). When the container is gone
 * its output is drained (until EOF on every stream, at most 2 s), <dir>/exit.json is written
 * (monitor/exit.h), the socket is removed and 0 is returned. A failed start ends the same way
 * (exit code 128, reason StartError), with exit.json written before the start reply.
 * SIGTERM/SIGINT: the container is killed with SIGKILL and the monitor ends as above (exit
 * code 137, signal 9). SIGPIPE and SIGHUP are ignored.
 *
 * Attach (monitor/attach_server.h): <dir>/attach.sock listens from setup until exit.json is
 * written. Every attached client gets the output as it is read (the CRI log is written exactly
 * as without clients), sends stdin (the write end of the container's stdin pipe, or the pty
 * master, is kept for it) and tty resizes, and gets EXIT once exit.json is written. */
#pragma once

#define CRISP_MONITOR_DRAIN_TIMEOUT_MS 2000

/* Runs the monitor for dir (absolute). report_fd: where the setup outcome goes (-1: only
 * logged). Returns the process exit status. Expects SIGCHLD not to be ignored. */
int crisp_monitor_main(const char *dir, int report_fd);
