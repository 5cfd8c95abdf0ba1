/* `crisp-monitor --pod-init`: the infra process of a pod with a pod-wide PID
 * namespace (pkg/pod/pod_infra.h starts it as pid 1 of that namespace). It
 * waits for one byte on go_fd (EOF: crispd gave up, exit 1), then reaps every
 * child the namespace hands it, forever. It blocks SIGCHLD only: as a
 * namespace init, signals from inside the pod without a handler never reach
 * it; crispd ends it with SIGKILL. It is not dumpable, so a container of the
 * pod cannot open /proc/1/exe (CVE-2019-5736) without CAP_SYS_PTRACE, and it
 * drops every capability (bounding set included) and sets no_new_privs. */
#pragma once

int crisp_pod_init_main(int go_fd);
